// tar-stream's pack writes PAX values as strings and refuses a body on a non-file entry, so tests that need
// raw (binary) PAX headers pack them as files named PaxHeader/* (GlobalHead/* for a global header) and
// retype those entries here, fixing each header's checksum.
export function retypePaxMarkers(buf: Buffer): Buffer {
  for (let off = 0; off + 512 <= buf.length;) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) { off += 512; continue; }
    const name = h.toString('latin1', 0, 100).replace(/\0.*$/s, '');
    const size = parseInt(h.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
    const flag = name.startsWith('PaxHeader/') ? 'x' : name.startsWith('GlobalHead/') ? 'g' : undefined;
    if (flag) {
      h.write(flag, 156, 'latin1');
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of h) sum += b;
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return buf;
}
