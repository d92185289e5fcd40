/**
 * A bounded pre-scan of CBOR bytes from the network, before any recursive decoder sees them.
 * Decoders (cbor-x, and any hand-written one) recurse once per nesting level; ~70 levels
 * overflow XS's 4,096-slot stack and far fewer the ESP32 manifest's 1,536, and the engine
 * aborts instead of throwing. This walk is iterative (a small array of counts, no
 * recursion), so its own stack use is constant, and it refuses:
 *   - nesting deeper than the limit (arrays, maps, tags and indefinite strings each count one level);
 *   - a container or string announcing more items or bytes than are left (cbor-x would
 *     allocate an array of that size before noticing the truncation);
 *   - reserved additional-information values and stray break codes;
 *   - half-precision floats. No Tether message carries a float, and cbor-x decodes a half
 *     through a Float32Array it makes at module load: in the preloaded bundle on the board that
 *     buffer is read-only, and decoding threw "read-only buffer" there while Node decoded the
 *     value (seen in mcsim). Refused here, a half float gets the same clear error everywhere.
 * It reads exactly one data item from the start; trailing bytes are the decoder's business.
 */
import { setErrorName } from "./error-name";

/** Deepest nesting any Tether message needs is 3 (batch → samples → sample); 8 leaves room. */
export const CBOR_MAX_DEPTH = 8;

const MAJOR_UINT = 0;
const MAJOR_NINT = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
const MAJOR_SIMPLE = 7;
const AI_1 = 24;
/** Major type 7 with a 2-byte argument: an IEEE 754 half-precision float. */
const AI_HALF_FLOAT = 25;
const AI_8 = 27;
const AI_INDEFINITE = 31;
/** Marks an open indefinite-length container on the count stack. */
const INDEFINITE = -1;
/** Marks an open indefinite-length string: only definite chunks of its own major type inside. */
const INDEFINITE_STRING = -2;

export class CborScanError extends Error {
  constructor(message: string) {
    super(message);
    setErrorName(this, "CborScanError");
  }
}

export interface CborScan {
  /** Bytes the first data item takes. */
  length: number;
  /** Deepest nesting seen (a plain integer is 0, a flat map 1). */
  depth: number;
  /** An integer with an 8-byte argument appears (cbor-x decodes those as BigInt). */
  hasInt64: boolean;
}

/** Walks one data item; throws CborScanError on anything a decoder could choke on. */
export function scanCbor(b: Uint8Array, maxDepth = CBOR_MAX_DEPTH): CborScan {
  const open: number[] = []; // items still expected per open container (or a marker)
  const stringMajor: number[] = []; // major type per open indefinite string (parallel, sparse)
  let pos = 0;
  let depth = 0;
  let hasInt64 = false;
  for (;;) {
    if (pos >= b.length) throw new CborScanError(`truncated at byte ${pos}`);
    const ib = b[pos++];
    const major = ib >> 5;
    const ai = ib & 31;
    const top = open.length > 0 ? open[open.length - 1] : 0;
    if (ib === 0xff) {
      // Break: closes the innermost indefinite container or string.
      if (top !== INDEFINITE && top !== INDEFINITE_STRING) throw new CborScanError(`unexpected break at byte ${pos - 1}`);
      if (top === INDEFINITE_STRING) stringMajor.pop();
      open.pop();
      if (closeItem(open)) return { length: pos, depth, hasInt64 };
      continue;
    }
    if (top === INDEFINITE_STRING && (major !== stringMajor[stringMajor.length - 1] || ai === AI_INDEFINITE)) {
      throw new CborScanError(`bad chunk in an indefinite string at byte ${pos - 1}`);
    }
    let arg = ai;
    if (ai >= AI_1 && ai <= AI_8) {
      const n = 1 << (ai - AI_1);
      if (pos + n > b.length) throw new CborScanError(`truncated argument at byte ${pos - 1}`);
      if (n === 8) {
        // Above 2^53 we only need "huge": every length check below fails on it anyway.
        arg = b[pos] * 2 ** 56 + b[pos + 1] * 2 ** 48 + ((b[pos + 2] << 8) | b[pos + 3]) * 2 ** 32;
        arg += ((b[pos + 4] << 24) >>> 0) + ((b[pos + 5] << 16) | (b[pos + 6] << 8) | b[pos + 7]);
        if (major === MAJOR_UINT || major === MAJOR_NINT) hasInt64 = true;
      } else {
        arg = 0;
        for (let k = 0; k < n; k++) arg = arg * 256 + b[pos + k];
      }
      pos += n;
    } else if (ai > AI_8 && ai < AI_INDEFINITE) {
      throw new CborScanError(`reserved additional information ${ai} at byte ${pos - 1}`);
    }
    const left = b.length - pos;
    let container = -3; // items this head opens, or -3 for a leaf
    switch (major) {
      case MAJOR_UINT:
      case MAJOR_NINT:
        if (ai === AI_INDEFINITE) throw new CborScanError(`indefinite integer at byte ${pos - 1}`);
        break;
      case MAJOR_BYTES:
      case MAJOR_TEXT:
        if (ai === AI_INDEFINITE) {
          container = INDEFINITE_STRING;
          stringMajor.push(major);
        } else {
          if (arg > left) throw new CborScanError(`string of ${arg} bytes with ${left} left`);
          pos += arg;
        }
        break;
      case MAJOR_ARRAY:
      case MAJOR_MAP: {
        if (ai === AI_INDEFINITE) container = INDEFINITE;
        else {
          const items = major === MAJOR_MAP ? arg * 2 : arg;
          if (items > left) throw new CborScanError(`${major === MAJOR_MAP ? "map" : "array"} of ${arg} with ${left} bytes left`);
          container = items;
        }
        break;
      }
      case MAJOR_TAG:
        if (ai === AI_INDEFINITE) throw new CborScanError(`indefinite tag at byte ${pos - 1}`);
        container = 1;
        break;
      case MAJOR_SIMPLE:
        if (ai === AI_INDEFINITE) throw new CborScanError(`unexpected break at byte ${pos - 1}`);
        if (ai === AI_HALF_FLOAT) throw new CborScanError(`half-precision float at byte ${pos - 3}: not accepted (Tether messages carry no floats)`);
        break;
    }
    if (container !== -3 && open.length + 1 > depth) {
      // An empty container is a level too: the decoder still descends into it.
      depth = open.length + 1;
      if (depth > maxDepth) throw new CborScanError(`nested deeper than ${maxDepth} levels`);
    }
    if (container === -3 || container === 0) {
      if (closeItem(open)) return { length: pos, depth, hasInt64 };
      continue;
    }
    open.push(container);
  }
}

/** One item finished: count it against its container, closing every container it completes. */
function closeItem(open: number[]): boolean {
  while (open.length > 0) {
    const i = open.length - 1;
    if (open[i] < 0) return false; // indefinite: only a break closes it
    if (--open[i] > 0) return false;
    open.pop();
  }
  return true;
}
