/**
 * /etc/hosts as Docker writes it for a container (moby etchosts.Build): the default entries, the --add-host
 * entries, then one line per address of the container. Pure; the one hosts-file builder of berth.
 */

export interface HostsOptions {
  hostname: string;
  domainname?: string;
  /** The container's own addresses (one per attached network); empty for --network none. */
  ips: string[];
  /** --add-host entries, `name:ip`; `host-gateway` is replaced by hostGatewayIp. */
  extraHosts?: string[];
  hostGatewayIp?: string;
  /** Legacy links (moby addLegacyLinks): written after the container's own lines. */
  links?: Array<{ ip: string; names: string }>;
}

export function buildHosts(o: HostsOptions): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::\tip6-localnet',
    'ff00::\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  lines.push(...extraHostLines(o.extraHosts, o.hostGatewayIp));
  const names = o.domainname ? `${o.hostname}.${o.domainname} ${o.hostname}` : o.hostname;
  for (const ip of o.ips) lines.push(`${ip}\t${names}`);
  for (const l of o.links ?? []) lines.push(`${l.ip}\t${l.names}`);
  return `${lines.join('\n')}\n`;
}

/** --add-host entries as hosts lines: `name:ip` (ip may hold colons, IPv6, or be [bracketed]) or `name=ip`. */
export function extraHostLines(extraHosts: string[] | undefined, hostGatewayIp?: string): string[] {
  const out: string[] = [];
  for (const h of extraHosts ?? []) {
    const i = h.search(/[:=]/);
    if (i <= 0) continue;
    let ip = h.slice(i + 1);
    if (ip === 'host-gateway') ip = hostGatewayIp ?? ip;
    out.push(`${ip.replace(/^\[|\]$/g, '')}\t${h.slice(0, i)}`);
  }
  return out;
}
