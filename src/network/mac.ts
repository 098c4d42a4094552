import { InvalidParameterError } from '../errors.js';

/**
 * A container's MAC address (`--mac-address`, EndpointSettings.MacAddress), pure. Go's net.ParseMAC accepts
 * 48-bit addresses as `aa:bb:cc:dd:ee:ff`, `aa-bb-...` or `aabb.ccdd.eeff`; berth takes the same spellings
 * and keeps the colon form. A multicast address (low bit of the first byte) cannot be an interface's own.
 */
export function parseMac(raw: string): string {
  const s = raw.trim();
  let hex: string | undefined;
  if (/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/.test(s)) hex = s.replace(/[:-]/g, '');
  else if (/^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/.test(s)) hex = s.replace(/\./g, '');
  if (!hex) throw new InvalidParameterError(`invalid MAC address: ${raw}`);
  hex = hex.toLowerCase();
  if (parseInt(hex.slice(0, 2), 16) & 1) throw new InvalidParameterError(`invalid MAC address: ${raw} is a multicast address`);
  return hex.match(/../g)!.join(':');
}
