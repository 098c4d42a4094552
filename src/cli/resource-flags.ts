/**
 * run/create flags that become HostConfig fields berthd may not implement (block IO throttles and weights,
 * Windows-only CPU and IO limits, GPUs, storage options). The CLI sends them exactly as docker's CLI does,
 * with its validation and wording, so the daemon's answer is the same whichever client is used: berthd
 * refuses what it does not act on (core/create-settings.ts). Flags only the client could act on and berth
 * does not are refused here.
 */
import { ramInBytes } from '../core/human.js';
import { FlagError, type ParsedArgs } from './flags.js';
import { bool, list, num, str } from './context.js';
import { flagErr } from './container-config.js';

function deviceSplit(v: string, flag: string): [string, string] {
  const i = v.lastIndexOf(':');
  if (i < 0 || v.indexOf(':') !== i) throw flagErr(v, flag, `bad format: ${v}`);
  const dev = v.slice(0, i);
  if (!dev.startsWith('/dev/')) throw flagErr(v, flag, `bad format for device path: ${v}`);
  return [dev, v.slice(i + 1)];
}

/** opts.ValidateWeightDevice */
export function weightDevice(v: string): { Path: string; Weight: number } {
  const [dev, w] = deviceSplit(v, '--blkio-weight-device');
  const n = /^\d+$/.test(w) ? Number(w) : NaN;
  if (Number.isNaN(n) || (n > 0 && (n < 10 || n > 1000))) throw flagErr(v, '--blkio-weight-device', `invalid weight for device: ${v}`);
  return { Path: dev, Weight: n };
}

/** opts.ValidateThrottleBpsDevice */
export function bpsDevice(v: string, flag: string): { Path: string; Rate: number } {
  const [dev, r] = deviceSplit(v, flag);
  let rate: number;
  try { rate = ramInBytes(r); } catch { rate = -1; }
  if (rate < 0) {
    throw flagErr(v, flag, `invalid rate for device: ${v}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`);
  }
  return { Path: dev, Rate: rate };
}

/** opts.ValidateThrottleIOpsDevice */
export function iopsDevice(v: string, flag: string): { Path: string; Rate: number } {
  const [dev, r] = deviceSplit(v, flag);
  if (!/^\d+$/.test(r)) throw flagErr(v, flag, `invalid rate for device: ${v}. The correct format is <device-path>:<number>. Number must be a positive integer`);
  return { Path: dev, Rate: Number(r) };
}

/** opts.GpuOpts.Set: "all", a count, or count=/device=/driver=/capabilities= pairs */
export function gpuRequest(v: string): Record<string, unknown> {
  const req: { Driver: string; Count: number; DeviceIDs: string[] | null; Capabilities: string[][]; Options: Record<string, string> | null } =
    { Driver: '', Count: 0, DeviceIDs: null, Capabilities: [['gpu']], Options: null };
  const fields = v.split(',');
  const seen = new Set<string>();
  for (const f of fields) {
    const i = f.indexOf('=');
    const key = i < 0 ? '' : f.slice(0, i);
    const val = i < 0 ? f : f.slice(i + 1);
    if (seen.has(key)) throw flagErr(v, '--gpus', `gpu request key '${key}' can be specified only once`);
    seen.add(key);
    switch (key) {
      case '': case 'count':
        if (val === 'all') req.Count = -1;
        else if (/^\d+$/.test(val)) req.Count = Number(val);
        else throw flagErr(v, '--gpus', `invalid count (${val}): value must be either "all" or an integer`);
        break;
      case 'driver': req.Driver = val; break;
      case 'device': req.DeviceIDs = val.split(','); break;
      case 'capabilities': req.Capabilities = [val.split(',')]; break;
      case 'options': req.Options = Object.fromEntries(val.split(',').map((o) => [o.split('=')[0] ?? '', o.split('=')[1] ?? ''])); break;
      default: throw flagErr(v, '--gpus', `unexpected key '${key}' in '${f}'`);
    }
  }
  return req;
}

/** parseStorageOpts: key=value pairs */
export function storageOpts(values: string[]): Record<string, string> | undefined {
  if (!values.length) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i < 0) throw new FlagError('invalid storage option');
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** The HostConfig fields of these flags (only those given: the rest stay unset). */
export function resourceHostConfig(p: ParsedArgs): Record<string, unknown> {
  if (p.changed.has('disable-content-trust') && !bool(p, 'disable-content-trust')) {
    throw new FlagError('content trust (--disable-content-trust=false, image signature verification) is not supported by berth');
  }
  if (bool(p, 'use-api-socket')) throw new FlagError('--use-api-socket is not supported by berth yet');
  const out: Record<string, unknown> = {
    BlkioWeightDevice: list(p, 'blkio-weight-device').map(weightDevice),
    BlkioDeviceReadBps: list(p, 'device-read-bps').map((v) => bpsDevice(v, '--device-read-bps')),
    BlkioDeviceWriteBps: list(p, 'device-write-bps').map((v) => bpsDevice(v, '--device-write-bps')),
    BlkioDeviceReadIOps: list(p, 'device-read-iops').map((v) => iopsDevice(v, '--device-read-iops')),
    BlkioDeviceWriteIOps: list(p, 'device-write-iops').map((v) => iopsDevice(v, '--device-write-iops')),
    DeviceRequests: list(p, 'gpus').map(gpuRequest),
    CpuCount: p.changed.has('cpu-count') ? num(p, 'cpu-count') : undefined,
    CpuPercent: p.changed.has('cpu-percent') ? num(p, 'cpu-percent') : undefined,
    IOMaximumIOps: p.changed.has('io-maxiops') ? num(p, 'io-maxiops') : undefined,
    IOMaximumBandwidth: undefined as number | undefined,
    StorageOpt: storageOpts(list(p, 'storage-opt')),
  };
  const bw = str(p, 'io-maxbandwidth');
  if (bw) {
    try { out.IOMaximumBandwidth = ramInBytes(bw); } catch (e) { throw flagErr(bw, '--io-maxbandwidth', (e as Error).message); }
  }
  for (const k of Object.keys(out)) {
    const v = out[k];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) delete out[k];
  }
  return out;
}
