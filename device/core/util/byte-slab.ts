/**
 * Short-lived byte buffers (an MQTT frame on its way to the socket, a telemetry batch on its
 * way to the outbox) carved from a shared slab instead of allocated one by one. In V8 a typed
 * array over 64 bytes gets its own off-heap store, which costs about ten times a small one and
 * more GC work; a view into a slab costs what a small one does. A slab is freed when the last
 * view into it is, so only buffers that are dropped soon may come from here: never one that
 * is stored (the outbox's records, a retained message).
 *
 * Each buffer is zero-filled (a slab is, and no byte of it is handed out twice), so callers see
 * what `new Uint8Array(n)` gives, except that `byteOffset` may be non-zero: a caller that needs
 * the whole ArrayBuffer must slice first (every platform adapter already does).
 */

/**
 * Bytes per slab. The current slab stays allocated for good, so on a board (80 KB chunk heap)
 * it is kept small; ten 200-byte frames per slab already spread the allocation's cost.
 */
export const SLAB_BYTES = 2048;
/** At most 64 bytes V8 keeps a typed array on its own heap: cheap already. */
const POOLED_MIN = 65;
/** A larger buffer would waste a slab's tail too often; it is made on its own. */
const POOLED_MAX = 1024;

let slab: ArrayBuffer | undefined;
let used = SLAB_BYTES;

/** A zero-filled buffer of `n` bytes, meant to be dropped soon (see above). */
export function transientBytes(n: number): Uint8Array {
  if (n < POOLED_MIN || n > POOLED_MAX) return new Uint8Array(n);
  // Made at first use, not at module load: a board's preloaded bundle lives in flash, read-only.
  if (slab === undefined || used + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const out = new Uint8Array(slab, used, n);
  used += n;
  return out;
}
