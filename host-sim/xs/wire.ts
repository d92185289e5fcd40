/**
 * The bytes that cross xsnap's host command channel between a device inside XS and the host
 * that owns its ports. Both sides use this file: the host (Node) and the device runtime
 * (bundled for XS, where TextEncoder, TextDecoder and Base64 do not exist, as on a board).
 *
 * A message is a little-endian u32 length, that many bytes of JSON in 7-bit ASCII (anything
 * above U+007F is written as a \u escape, so one byte is one character on both sides), then the
 * raw bytes of every Uint8Array in it, which the JSON names as {"$b": [offset, length]}: bytes
 * are copied, never converted one by one (an OTA block crosses as 4 KiB, not 8 KiB of hex).
 * Node-free and XS-safe.
 */

/** The key that marks bytes inside a message. */
const BYTES = "$b";
const HEAD = 4;

function escapeWide(c: string): string {
  return "\\u" + ("000" + c.charCodeAt(0).toString(16)).slice(-4);
}

/** A value (with Uint8Arrays anywhere inside) as bytes. */
export function encodeMessage(value: unknown): Uint8Array {
  const blobs: Uint8Array[] = [];
  let total = 0;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (!(v instanceof Uint8Array)) return v;
    blobs.push(v);
    total += v.length;
    return { [BYTES]: [total - v.length, v.length] };
  }).replace(/[\u0080-\uffff]/g, escapeWide);
  const out = new Uint8Array(HEAD + text.length + total);
  new DataView(out.buffer).setUint32(0, text.length, true);
  for (let i = 0; i < text.length; i++) out[HEAD + i] = text.charCodeAt(i);
  let at = HEAD + text.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** The value encodeMessage wrote. */
export function decodeMessage(bytes: Uint8Array): unknown {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  let text = "";
  // Each argument of apply() is a slot on the XS stack (1,536 on the ESP32): keep chunks small.
  const CHUNK = 128;
  for (let i = HEAD; i < HEAD + length; i += CHUNK) text += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, Math.min(i + CHUNK, HEAD + length))));
  const base = HEAD + length;
  return JSON.parse(text, (_key, v: unknown) => {
    const ref = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[BYTES] : undefined;
    if (!Array.isArray(ref)) return v;
    const [offset, n] = ref as [number, number];
    return bytes.slice(base + offset, base + offset + n);
  });
}

// ---------------------------------------------------------------- the messages
/** Host → device (xsnap `?` command, the device's handleCommand). `t`: virtual time now. */
export type Delivery =
  | { k: "load"; path: string }
  | { k: "status" }
  | { k: "start"; t: number; config: unknown; battery: { resolution: number; fullScaleMv: number; charger: boolean } }
  | { k: "stop"; t: number }
  | { k: "timer"; t: number; id: number }
  | { k: "connect"; t: number; s: number }
  | { k: "data"; t: number; s: number; b: Uint8Array }
  | { k: "close"; t: number; s: number; reason: string };

/**
 * Device → host answer to a delivery. `error`: what unwound out of the device's code; `q`: port
 * calls that return nothing and cannot fail, queued since the last synchronous call (the host
 * performs them first, in order).
 */
export interface DeliveryResult {
  q?: PortCall[];
  loaded?: "pending" | "ok" | "failed";
  error?: { name: string; message: string };
}

/**
 * Device → host (issueCommand): one port call, after the queued calls `q`. Calls that return
 * nothing and cannot fail (DEFERRED) wait in the device's queue until the next call or the end
 * of the delivery: the host still performs every call in the device's order, at the same
 * virtual time, with fewer round trips.
 */
export interface PortCall {
  /** "kv.get", "flash.write", "socket.write", ... */
  p: string;
  a: unknown[];
  q?: PortCall[];
}

/** Port calls that may wait in the device's queue. clock.setTimeout takes the device's own id. */
export const DEFERRED = ["event", "log", "clock.setTimeout", "clock.clearTimeout", "sha256.update", "socket.close"] as const;

/** Host → device answer to a port call: a value, or the error the port threw. */
export interface PortReply {
  r?: unknown;
  e?: { name: string; message: string; code?: string };
}
