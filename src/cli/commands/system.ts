/** version, info, events. */
import { jsonMessages } from '../../client/engine-client.js';
import { goStruct, parseTemplate } from '../../core/go-template.js';
import { bytesSize } from '../../core/human.js';
import { parseGoDurationMs } from '../../core/go-duration.js';
import { formatGoTime, localGoTime } from '../../core/go-time.js';
import { StatusError, filtersParam, list, str, type CliContext, type Command } from '../context.js';
import { tabwrite, templateString } from '../format.js';
import type { ParsedArgs } from '../flags.js';

const FORMAT_DESC = 'Format output using a custom template:\n\'json\':             Print in JSON format\n\'TEMPLATE\':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates';

export const CLIENT_VERSION = '0.1.0';

function execTemplate(format: string, data: unknown): string {
  try {
    return parseTemplate(templateString(format)).execute(data) + '\n';
  } catch (e) {
    throw new StatusError(`template parsing error: ${(e as Error).message}`, 1);
  }
}

function clientInfo() {
  return {
    Platform: { Name: '' },
    Version: CLIENT_VERSION,
    ApiVersion: '1.45',
    DefaultAPIVersion: '1.45',
    GitCommit: '',
    GoVersion: process.version,
    Os: process.platform,
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
    BuildTime: '',
    Context: 'default',
  };
}

const version: Command = {
  spec: {
    path: 'version', usage: 'version [OPTIONS]', desc: 'Show the berth version information', args: { exact: 0 },
    flags: [{ name: 'format', short: 'f', kind: 'string', desc: FORMAT_DESC }],
  },
  async run(ctx, p) {
    const client = clientInfo();
    let server: any = null;
    let failure: unknown = null;
    try {
      server = await ctx.client.version();
    } catch (e) {
      failure = e;
    }
    const format = str(p, 'format');
    if (format) {
      ctx.out(execTemplate(format, { Client: client, Server: server }));
      if (failure) throw failure;
      return 0;
    }
    const rows = [
      'Client:',
      ` Version:\t${client.Version}`,
      ` API version:\t${client.ApiVersion}`,
      ` Node.js version:\t${client.GoVersion}`,
      ` OS/Arch:\t${client.Os}/${client.Arch}`,
      ` Context:\t${client.Context}`,
    ];
    if (server) {
      rows.push('', `Server:${server.Platform?.Name ? ' ' + server.Platform.Name : ''}`);
      const comps: any[] = server.Components ?? [{ Name: 'Engine', Version: server.Version, Details: {} }];
      for (const c of comps) {
        rows.push(` ${c.Name}:`, `  Version:\t${c.Version}`);
        if (c.Name === 'Engine') {
          const d = { ...server, ...(c.Details ?? {}) };
          rows.push(`  API version:\t${d.ApiVersion} (minimum version ${d.MinAPIVersion ?? ''})`);
          if (d.GoVersion) rows.push(`  Go version:\t${d.GoVersion}`);
          if (d.GitCommit) rows.push(`  Git commit:\t${d.GitCommit}`);
          if (d.BuildTime) rows.push(`  Built:\t${d.BuildTime}`);
          rows.push(`  OS/Arch:\t${d.Os}/${d.Arch}`);
          if (d.Experimental !== undefined) rows.push(`  Experimental:\t${d.Experimental}`);
        } else {
          for (const [k, v] of Object.entries(c.Details ?? {})) rows.push(`  ${k}:\t${v}`);
        }
      }
    }
    ctx.out(tabwrite(rows.join('\n') + '\n', 20, 1));
    if (failure) throw failure;
    return 0;
  },
};

const info: Command = {
  spec: {
    path: 'info', usage: 'info [OPTIONS]', desc: 'Display system-wide information', args: { exact: 0 },
    flags: [{ name: 'format', short: 'f', kind: 'string', desc: FORMAT_DESC }],
  },
  async run(ctx, p) {
    const format = str(p, 'format');
    const i = await ctx.client.info();
    if (format) {
      ctx.out(execTemplate(format, format === 'json' || format.includes('.ClientInfo') || format.includes('.ServerErrors') ? { ClientInfo: clientInfo(), ...i } : i));
      return 0;
    }
    const L: string[] = ['Client:', ` Version:    ${CLIENT_VERSION}`, ' Context:    default', ` Debug Mode: false`, '', 'Server:'];
    L.push(` Containers: ${i.Containers ?? 0}`, `  Running: ${i.ContainersRunning ?? 0}`, `  Paused: ${i.ContainersPaused ?? 0}`, `  Stopped: ${i.ContainersStopped ?? 0}`);
    L.push(` Images: ${i.Images ?? 0}`, ` Server Version: ${i.ServerVersion ?? ''}`, ` Storage Driver: ${i.Driver ?? ''}`);
    for (const [k, v] of (i.DriverStatus ?? []) as [string, string][]) L.push(`  ${k}: ${v}`);
    L.push(` Logging Driver: ${i.LoggingDriver ?? ''}`, ` Cgroup Driver: ${i.CgroupDriver ?? ''}`, ` Cgroup Version: ${i.CgroupVersion ?? ''}`);
    if (i.Plugins) {
      L.push(' Plugins:');
      for (const k of ['Volume', 'Network', 'Log']) if (i.Plugins[k]) L.push(`  ${k}: ${(i.Plugins[k] as string[]).join(' ')}`);
    }
    if (i.Runtimes) L.push(` Runtimes: ${Object.keys(i.Runtimes).sort().join(' ')}`, ` Default Runtime: ${i.DefaultRuntime ?? ''}`);
    if (i.InitBinary !== undefined) L.push(` Init Binary: ${i.InitBinary}`);
    if (i.SecurityOptions?.length) {
      L.push(' Security Options:');
      for (const o of i.SecurityOptions as string[]) {
        const parts = o.split(',').map((kv) => kv.split('='));
        const name = parts.find((x) => x[0] === 'name')?.[1] ?? o;
        L.push(`  ${name}`);
        for (const [k, v] of parts) if (k !== 'name') L.push(`   ${k[0]!.toUpperCase()}${k.slice(1)}: ${v}`);
      }
    }
    L.push(` Kernel Version: ${i.KernelVersion ?? ''}`, ` Operating System: ${i.OperatingSystem ?? ''}`, ` OSType: ${i.OSType ?? ''}`,
      ` Architecture: ${i.Architecture ?? ''}`, ` CPUs: ${i.NCPU ?? 0}`, ` Total Memory: ${bytesSize(i.MemTotal ?? 0)}`, ` Name: ${i.Name ?? ''}`,
      ` ID: ${i.ID ?? ''}`, ` Docker Root Dir: ${i.DockerRootDir ?? ''}`, ` Debug Mode: ${Boolean(i.Debug)}`);
    if (i.Labels?.length) { L.push(' Labels:'); for (const l of i.Labels as string[]) L.push(`  ${l}`); }
    L.push(` Experimental: ${Boolean(i.ExperimentalBuild)}`);
    if (i.InsecureRegistries?.length ?? i.RegistryConfig?.InsecureRegistryCIDRs?.length) {
      L.push(' Insecure Registries:');
      const regs = Object.keys(i.RegistryConfig?.IndexConfigs ?? {}).filter((k) => i.RegistryConfig.IndexConfigs[k].Secure === false);
      for (const r of [...regs, ...((i.RegistryConfig?.InsecureRegistryCIDRs ?? []) as string[])]) L.push(`  ${r}`);
    }
    if (i.RegistryConfig?.Mirrors?.length) {
      L.push(' Registry Mirrors:');
      for (const m of i.RegistryConfig.Mirrors as string[]) L.push(`  ${m}`);
    }
    L.push(` Live Restore Enabled: ${Boolean(i.LiveRestoreEnabled)}`, '');
    ctx.out(L.join('\n'));
    for (const w of (i.Warnings ?? []) as string[]) ctx.err(`${w}\n`);
    return 0;
  },
};

/** Go's RFC3339NanoFixed in local time: 2006-01-02T15:04:05.000000000Z07:00 */
export function rfc3339NanoFixed(timeNano: bigint): string {
  return formatGoTime(localGoTime(timeNano), 'RFC3339NanoFixed');
}

export function formatEvent(ev: any): string {
  let s = '';
  if (ev.timeNano) s += rfc3339NanoFixed(BigInt(ev.timeNano)) + ' ';
  else if (ev.time) s += rfc3339NanoFixed(BigInt(ev.time) * 1000000000n) + ' ';
  s += `${ev.Type} ${ev.Action} ${ev.Actor?.ID ?? ev.id ?? ''}`;
  const attrs = ev.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length) s += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return s + '\n';
}

const events: Command = {
  spec: {
    path: 'events', usage: 'events [OPTIONS]', desc: 'Get real time events from the server', args: { exact: 0 },
    flags: [
      { name: 'filter', short: 'f', kind: 'list', type: 'filter', desc: 'Filter output based on conditions provided' },
      { name: 'format', kind: 'string', desc: FORMAT_DESC },
      { name: 'since', kind: 'string', desc: 'Show all events created since timestamp' },
      { name: 'until', kind: 'string', desc: 'Stream events until this timestamp' },
    ],
  },
  async run(ctx: CliContext, p: ParsedArgs) {
    const format = str(p, 'format');
    const tmpl = format ? (() => {
      try { return parseTemplate(templateString(format)); } catch (e) { throw new StatusError(`template parsing error: ${(e as Error).message}`, 1); }
    })() : null;
    const res = await ctx.client.events({
      since: toUnix(str(p, 'since')), until: toUnix(str(p, 'until')), filters: filtersParam(list(p, 'filter')),
    });
    for await (const ev of jsonMessages<any>(res)) {
      if (tmpl) ctx.out(tmpl.execute(goStruct({ ...ev }, 'events.Message')) + '\n');
      else ctx.out(formatEvent(ev));
    }
    return 0;
  },
};

/** docker's GetTimestamp: durations ("10m") relative to now, RFC 3339 dates, or unix seconds as-is. */
export function toUnix(v: string, now = Date.now()): string | undefined {
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  const dur = v === '0' ? undefined : parseGoDurationMs(v);
  if (dur !== undefined) return ((now - dur) / 1000).toFixed(9);
  const t = Date.parse(v.length === 10 ? v + 'T00:00:00' : v);
  if (Number.isNaN(t)) return v;
  return (t / 1000).toFixed(9);
}

export const commands: Record<string, Command> = { version, info, events };
