/**
 * The run's trace hash: FNV-1a over a canonical stream of integer events (virtual time,
 * device index, event code, two arguments), each as four little-endian u32 bytes, in the
 * order the single virtual clock produced them. Two 32-bit lanes with different offset
 * bases give a 64-bit hex digest. No strings and no floats, so hashing stays cheap and the
 * same run hashes the same on every engine. Node-free.
 */

/** Event codes: part of the hash definition, never renumber. */
export const EV = {
  boot: 1,
  link: 2,
  made: 3,
  delivered: 4,
  alarm: 5,
  otaStatus: 6,
  powerCut: 7,
  dead: 8,
  brick: 9,
  crash: 10,
  restart: 11,
  fault: 12,
  duplicate: 13,
  watchdog: 14,
} as const;

const PRIME = 0x01000193;

export class TraceHash {
  private a = 0x811c9dc5;
  private b = 0x050c5d1f;
  events = 0;

  private word(v: number): void {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < 4; i++) {
      const byte = (v >>> (i * 8)) & 0xff;
      a = Math.imul(a ^ byte, PRIME);
      b = Math.imul(b ^ byte ^ 0x5a, PRIME);
    }
    this.a = a;
    this.b = b;
  }

  /** Adds one event. `t` is virtual ms (split in two words: runs last longer than 2^32 ms). */
  add(t: number, device: number, code: number, x = 0, y = 0): void {
    this.events++;
    this.word(t % 0x100000000);
    this.word(Math.floor(t / 0x100000000));
    this.word(device);
    this.word(code);
    this.word(x | 0);
    this.word(y | 0);
  }

  /** Folds another hash in (shards, combined in shard order). */
  combine(hex: string): void {
    for (let i = 0; i < hex.length; i += 8) this.word(parseInt(hex.slice(i, i + 8), 16) | 0);
  }

  hex(): string {
    return (this.a >>> 0).toString(16).padStart(8, "0") + (this.b >>> 0).toString(16).padStart(8, "0");
  }
}
