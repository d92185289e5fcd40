/**
 * Strict UTF-8 for MQTT strings, in plain JS so it runs the same on XS and Node
 * (no TextEncoder/TextDecoder dependency; the device tsconfig has no DOM lib).
 * MQTT 3.1.1 §1.5.3: malformed UTF-8, surrogates and U+0000 make a packet malformed.
 */

/** Encodes a JS string; lone surrogates become U+FFFD so the output is always valid. */
export function utf8Encode(s: string): Uint8Array {
  const out = new Uint8Array(utf8Length(s));
  utf8Write(s, out, 0);
  return out;
}

/**
 * Writes the encoding of `s` into `out` at `offset` (room for utf8Length(s) bytes is the
 * caller's job); returns the offset after it. Lets encoders build a packet or record in one
 * buffer instead of encoding the string into a temporary first.
 */
export function utf8Write(s: string, out: Uint8Array, offset: number): number {
  let o = offset;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    } else {
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 63);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    }
  }
  return o;
}

/** Byte length of the UTF-8 encoding, without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Decodes bytes[start, end) strictly. Returns undefined for anything MQTT calls malformed:
 * bad sequences, overlongs, surrogates, code points > U+10FFFF, and U+0000.
 */
export function utf8Decode(bytes: Uint8Array, start: number, end: number): string | undefined {
  const ascii = asciiDecode(bytes, start, end);
  if (ascii !== undefined) return ascii;
  let s = "";
  let i = start;
  while (i < end) {
    const b = bytes[i];
    let cp: number;
    let need: number;
    let min: number;
    if (b < 0x80) {
      if (b === 0) return undefined;
      s += String.fromCharCode(b);
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      cp = b & 0x1f; need = 1; min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      cp = b & 0x0f; need = 2; min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      cp = b & 0x07; need = 3; min = 0x10000;
    } else return undefined;
    if (i + need >= end) return undefined; // truncated sequence
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
    s += String.fromCodePoint(cp);
    i += need + 1;
  }
  return s;
}

/** Characters per String.fromCharCode call: far below any engine's argument limit (XS's stack is small). */
const ASCII_CHUNK = 256;

/**
 * The common case (topics are ASCII): whole chunks at once instead of one concatenation per
 * character. Undefined when a byte is 0 or ≥ 0x80 (the full decoder decides).
 */
function asciiDecode(bytes: Uint8Array, start: number, end: number): string | undefined {
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b === 0 || b >= 0x80) return undefined;
  }
  let s = "";
  for (let i = start; i < end; i += ASCII_CHUNK) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + ASCII_CHUNK)) as unknown as number[]);
  }
  return s;
}

/**
 * The last topic encoded, its UTF-8, and whether that reads back exactly. A device sends nearly
 * every message on one topic, and its outbox (which stores the bytes) and MQTT client (which
 * sends them) share one of these: the topic is scanned and encoded once, not once per module.
 * The bytes are never written to after they are made, so both may keep them.
 */
export class TopicUtf8 {
  private last: string | undefined;
  private lastBytes: Uint8Array = new Uint8Array(0);
  private lastReadsBack = false;

  /** The UTF-8 of `topic` (kept from the last call when it is the same topic). */
  bytes(topic: string): Uint8Array {
    if (topic !== this.last) {
      this.lastBytes = utf8Encode(topic);
      // ASCII without NUL: utf8Decode of the bytes gives exactly `topic` back.
      this.lastReadsBack = this.lastBytes.length === topic.length && topic.indexOf("\0") < 0;
      this.last = topic;
    }
    return this.lastBytes;
  }

  /** Whether the bytes of the last topic given to bytes() decode back to exactly that topic. */
  get readsBack(): boolean {
    return this.lastReadsBack;
  }
}
