import { InvalidParameterError } from '../errors.js';
import { parseIPv4 } from './ip.js';

/**
 * The bridge driver's `com.docker.network.*` options (`docker network create -o`), pure. The ones berth acts
 * on are checked as moby's bridge driver parses them (Go's ParseBool/Atoi/ParseIP, its "failed to parse"
 * wording); other `com.docker.network.*` keys are refused rather than stored and ignored. Keys outside that
 * namespace round-trip untouched, as in Docker.
 */
export const OPT_BRIDGE_NAME = 'com.docker.network.bridge.name';
export const OPT_ICC = 'com.docker.network.bridge.enable_icc';
export const OPT_MASQUERADE = 'com.docker.network.bridge.enable_ip_masquerade';
export const OPT_HOST_BINDING = 'com.docker.network.bridge.host_binding_ipv4';
export const OPT_MTU = 'com.docker.network.driver.mtu';
/** Set by berth on the predefined bridge only. */
export const OPT_DEFAULT_BRIDGE = 'com.docker.network.bridge.default_bridge';

const IMPLEMENTED = new Set([OPT_BRIDGE_NAME, OPT_ICC, OPT_MASQUERADE, OPT_HOST_BINDING, OPT_MTU]);

/** Go's strconv.ParseBool. */
export function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

const parseErr = (k: string, v: string, why: string) => new InvalidParameterError(`failed to parse ${k} value: ${v} (${why})`);

/** Throws Docker's 400 for a bad value, and berth's for a driver option it does not implement. */
export function checkBridgeOptions(opts: Record<string, string>): void {
  for (const [k, v] of Object.entries(opts)) {
    if (!k.startsWith('com.docker.network.')) continue;
    if (!IMPLEMENTED.has(k)) throw new InvalidParameterError(`network option ${k} is not supported by berth`);
    if (typeof v !== 'string') throw new InvalidParameterError(`network option ${k}: value must be a string`);
    if ((k === OPT_ICC || k === OPT_MASQUERADE) && parseGoBool(v) === undefined) throw parseErr(k, v, `strconv.ParseBool: parsing "${v}": invalid syntax`);
    if (k === OPT_MTU) {
      if (!/^[+-]?\d+$/.test(v)) throw parseErr(k, v, `strconv.Atoi: parsing "${v}": invalid syntax`);
      const mtu = Number(v);
      // Linux: 68 (IPv4's minimum) to 65535 for a bridge; 0 leaves the default.
      if (mtu !== 0 && (mtu < 68 || mtu > 65535)) throw new InvalidParameterError(`invalid MTU number: ${v}`);
    }
    if (k === OPT_HOST_BINDING && parseIPv4(v) === undefined) throw parseErr(k, v, 'nil ip');
  }
}

/** What the options mean for rules and publishing (unset = Docker's defaults). */
export function bridgeSettings(opts: Record<string, string>): { icc: boolean; masquerade: boolean; hostBindingIp: string; mtu: number } {
  const hb = opts[OPT_HOST_BINDING];
  return {
    icc: parseGoBool(opts[OPT_ICC] ?? '') ?? true,
    masquerade: parseGoBool(opts[OPT_MASQUERADE] ?? '') ?? true,
    hostBindingIp: hb && hb !== '0.0.0.0' ? hb : '',
    mtu: Number(opts[OPT_MTU] ?? 0) || 0,
  };
}
