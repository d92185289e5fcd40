/**
 * Seeds derived from the run seed by index, not drawn from a shared stream, so a device (or a
 * fault's choice of devices) is the same whichever shard runs it and whatever runs before it.
 * Node-free.
 */

/** A 32-bit mix of the words (FNV-1a over their bytes, then a murmur3 finalizer). */
export function mix(...words: number[]): number {
  let h = 0x811c9dc5;
  for (const w of words) {
    for (let i = 0; i < 4; i++) h = Math.imul(h ^ ((w >>> (i * 8)) & 0xff), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function deviceSeed(runSeed: number, index: number): number {
  return mix(runSeed, 0x64657669, index);
}

/** Per fault and device: used to pick devices and to time random faults. */
export function faultSeed(runSeed: number, fault: number, index: number): number {
  return mix(runSeed, 0x66617574, fault, index);
}
