/** Bytes a fake socket has received and not yet read: chunks in arrival order, read across chunk boundaries. */
export class RxBuffer {
  private chunks: Uint8Array[] = [];
  /** Bytes waiting. */
  size = 0;

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
    this.size += bytes.length;
  }

  /** Removes and returns the next `n` bytes (n ≤ size). */
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const head = this.chunks[0];
      const k = Math.min(head.length, n - got);
      out.set(head.subarray(0, k), got);
      got += k;
      if (k === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(k);
    }
    this.size -= n;
    return out;
  }
}
