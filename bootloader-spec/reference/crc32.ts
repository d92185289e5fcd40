/** CRC-32 (IEEE 802.3, reflected) as ESP-IDF's esp_rom_crc32_le computes it. */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * esp_rom_crc32_le(crc, buf, len): the register starts at ~crc and the result is inverted, so
 * `crc = 0` is the usual CRC-32 and `crc = 0xFFFFFFFF` (what otadata uses) starts the register at 0.
 */
export function espRomCrc32Le(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The usual CRC-32 (esp_rom_crc32_le with crc 0), for the reference boot records. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return espRomCrc32Le(0, bytes, start, end);
}
