// /etc/hostname, /etc/hosts and /etc/resolv.conf for a container without a network service (tests,
// --network none/host when berthd runs without networking). The seams work dedups hosts-file writing.
import fsp from 'node:fs/promises';
import type { ContainerRecord } from './types.js';

export async function writeEtcFiles(rec: ContainerRecord, hostname: string, hostMode: boolean): Promise<void> {
  const domain = rec.Config.Domainname ? `${hostname}.${rec.Config.Domainname} ` : '';
  let hosts: string;
  if (hostMode) {
    hosts = await fsp.readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n');
  } else {
    hosts = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n' +
      'ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
    if (domain) hosts += `127.0.0.1\t${domain.trim()} ${hostname}\n`;
  }
  for (const h of (rec.HostConfig.ExtraHosts as string[] | undefined) ?? []) {
    const i = h.indexOf(':');
    if (i > 0) hosts += `${h.slice(i + 1)}\t${h.slice(0, i)}\n`;
  }
  // Without a network of its own, the container can still use the host's resolvers via --network host only;
  // with none it gets the host's file minus loopback nameservers, as Docker does.
  const hostResolv = await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const resolv = hostMode ? hostResolv : hostResolv.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l)).join('\n');
  await fsp.writeFile(rec.HostnamePath, `${hostname}\n`);
  await fsp.writeFile(rec.HostsPath, hosts);
  await fsp.writeFile(rec.ResolvConfPath, resolv);
}
