/**
 * The bytes that cross xsnap's host command channel between a device inside XS and the host
 * that owns its ports. Both sides use this file: the host (Node) and the device runtime
 * (bundled for XS, where TextEncoder, TextDecoder and Base64 do not exist, as on a board).
 *
 * A message is JSON in 7-bit ASCII (anything above U+007F is written as a \u escape, so one
 * byte is one character on both sides); a Uint8Array travels as {"$b": "<hex>"}.
 * Node-free and XS-safe.
 */

/** The key that marks bytes inside a message. */
const BYTES = "$b";

const HEX = "0123456789abcdef";

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
  return s;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function escapeWide(c: string): string {
  return "\\u" + ("000" + c.charCodeAt(0).toString(16)).slice(-4);
}

/** A value (with Uint8Arrays anywhere inside) as ASCII bytes. */
export function encodeMessage(value: unknown): Uint8Array {
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? { [BYTES]: toHex(v) } : v)).replace(/[\u0080-\uffff]/g, escapeWide);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** The value encodeMessage wrote. */
export function decodeMessage(bytes: Uint8Array): unknown {
  let text = "";
  // Each argument of apply() is a slot on the XS stack (1,536 on the ESP32): keep chunks small.
  const CHUNK = 128;
  for (let i = 0; i < bytes.length; i += CHUNK) text += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + CHUNK)));
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === "object" && v !== null && typeof (v as Record<string, unknown>)[BYTES] === "string") return fromHex((v as Record<string, string>)[BYTES]);
    return v;
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
