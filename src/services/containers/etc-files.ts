// /etc/hostname, /etc/hosts and /etc/resolv.conf for a container without a network service (tests,
// --network none/host when berthd runs without networking). The hosts text comes from core/hosts-file.ts.
import fsp from 'node:fs/promises';
import { buildHosts, extraHostLines } from '../../core/hosts-file.js';
import type { ContainerRecord } from './types.js';

export async function writeEtcFiles(rec: ContainerRecord, hostname: string, hostMode: boolean): Promise<void> {
  const extraHosts = (rec.HostConfig.ExtraHosts as string[] | undefined) ?? [];
  let hosts: string;
  if (hostMode) {
    const host = await fsp.readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n');
    const extra = extraHostLines(extraHosts);
    hosts = extra.length ? `${host}${host.endsWith('\n') ? '' : '\n'}${extra.join('\n')}\n` : host;
  } else {
    // No address of its own (--network none): the defaults and --add-host, as Docker writes it.
    hosts = buildHosts({ hostname, domainname: rec.Config.Domainname || undefined, ips: [], extraHosts });
  }
  // Without a network of its own, the container can still use the host's resolvers via --network host only;
  // with none it gets the host's file minus loopback nameservers, as Docker does.
  const hostResolv = await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const resolv = hostMode ? hostResolv : hostResolv.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l)).join('\n');
  await fsp.writeFile(rec.HostnamePath, `${hostname}\n`);
  await fsp.writeFile(rec.HostsPath, hosts);
  await fsp.writeFile(rec.ResolvConfPath, resolv);
}
