/**
 * Keep-alive and dead-link detection as a pure function of three timestamps, so it can be
 * checked exhaustively over every keep-alive under a virtual clock (test/mqtt/keepalive.test.ts).
 *
 * Two duties (MQTT 3.1.1 §3.1.2.10):
 *  - MQTT-3.1.2-23: the interval between packets the client sends must not exceed the
 *    keep-alive. So a PINGREQ goes out once nothing was sent for PING_AFTER of it, and that
 *    holds while a PINGRESP is awaited too (a fixed PINGRESP timeout longer than the
 *    keep-alive broke it below ~7 s).
 *  - A half-open link (nothing arrives any more, and the socket never says so) is declared
 *    dead once nothing was received for DEAD_AFTER of the keep-alive. A PINGREQ goes out after
 *    PING_AFTER of receive silence, so a live broker always answers well before that: the
 *    round trip may take up to (DEAD_AFTER − PING_AFTER) · keep-alive. Since the last byte
 *    received is no later than the moment the link died, detection takes at most
 *    DEAD_AFTER · keep-alive, inside the 1.5 × keep-alive a broker itself allows.
 */

/** Fractions of the keep-alive, in quarters (integers keep every timestamp exact). */
const PING_AFTER_QUARTERS = 3;
const DEAD_AFTER_QUARTERS = 5;

export interface KeepAliveClock {
  /** When the last packet went out on this connection (the CONNECT at first). */
  lastSent: number;
  /** When the last byte arrived (the CONNACK at first). */
  lastReceived: number;
  /** When the last PINGREQ went out, if any on this connection. */
  lastPing: number | undefined;
}

export type KeepAliveDecision =
  /** Declare the link dead and close it. */
  | { action: "dead"; silentMs: number }
  /** Send a PINGREQ now, then call again at `nextAt` (having recorded the send). */
  | { action: "ping" }
  /** Nothing to do before `nextAt`. */
  | { action: "wait"; nextAt: number };

export const pingAfterMs = (keepAliveMs: number): number => (keepAliveMs * PING_AFTER_QUARTERS) / 4;
export const deadAfterMs = (keepAliveMs: number): number => (keepAliveMs * DEAD_AFTER_QUARTERS) / 4;

/** What to do at `now` on a connection with keep-alive `keepAliveMs` (> 0). */
export function keepAliveStep(now: number, c: KeepAliveClock, keepAliveMs: number): KeepAliveDecision {
  const ping = pingAfterMs(keepAliveMs);
  const dead = c.lastReceived + deadAfterMs(keepAliveMs);
  if (now >= dead) return { action: "dead", silentMs: now - c.lastReceived };
  // A ping already sent since the last receive is enough for the receive side; its answer is due by `dead`.
  const pingPending = c.lastPing !== undefined && c.lastPing >= c.lastReceived;
  const sendDue = c.lastSent + ping;
  const receiveDue = pingPending ? Infinity : c.lastReceived + ping;
  if (now >= sendDue || now >= receiveDue) return { action: "ping" };
  return { action: "wait", nextAt: Math.min(sendDue, receiveDue, dead) };
}
