/**
 * The connection manager's state machine: plain data and one transition function, so it can
 * be tested exhaustively and gives the same trace on XS and Node. Randomness comes through a
 * Random passed to `step`, drawn only when a delay is chosen, so a seed fixes every delay.
 *
 *   offline --start--> waiting(power-on) --timer--> connecting --connected--> online
 *   connecting/online --closed/refused--> backoff --timer--> connecting
 *   online --stable timer--> online (attempt reset)      any --stop--> offline
 */
import type { Random } from "../../ports";
import { isAuthRefusal, powerOnDelay, refusedDelay, retryDelay, type BackoffPolicy } from "./backoff";

/** The same words as telemetry's LinkState. */
export type LinkPhase = "offline" | "connecting" | "online" | "backoff";

export interface LinkModel {
  phase: LinkPhase;
  /** Failed attempts since the last stable connection: the backoff exponent. */
  attempt: number;
  /** Connection attempts started since boot. */
  attempts: number;
  /** Successful connections since boot. */
  connects: number;
  /** Index into the broker list of the current/next attempt. */
  broker: number;
  brokers: number;
  /** The current connection reached CONNACK (a failure then retries the same broker first). */
  wasOnline: boolean;
  /** The last refusal was an authorisation refusal. */
  authRefused: boolean;
}

export type LinkInput =
  | { type: "start" }
  | { type: "timer" } // power-on or backoff delay elapsed
  | { type: "connected" }
  | { type: "stable" } // stayed online for stableMs
  | { type: "refused"; code: number }
  | { type: "closed" }
  | { type: "stop" };

export type LinkEffect =
  | { type: "wait"; ms: number; why: "power-on" | "backoff" | "refused" }
  | { type: "connect"; broker: number }
  | { type: "arm-stable"; ms: number }
  | { type: "cancel" } // cancel the pending wait/stable timers
  | { type: "disconnect" };

export function initialLink(brokers: number): LinkModel {
  return { phase: "offline", attempt: 0, attempts: 0, connects: 0, broker: 0, brokers, wasOnline: false, authRefused: false };
}

export function step(m: LinkModel, input: LinkInput, policy: BackoffPolicy, random: Random): { model: LinkModel; effects: LinkEffect[] } {
  const next: LinkModel = { ...m };
  const effects: LinkEffect[] = [];
  switch (input.type) {
    case "start":
      if (m.phase !== "offline") break;
      next.phase = "backoff";
      effects.push({ type: "wait", ms: powerOnDelay(policy, random), why: "power-on" });
      break;
    case "timer":
      if (m.phase !== "backoff") break;
      next.phase = "connecting";
      next.attempts++;
      next.wasOnline = false;
      effects.push({ type: "connect", broker: next.broker });
      break;
    case "connected":
      if (m.phase !== "connecting") break;
      next.phase = "online";
      next.connects++;
      next.wasOnline = true;
      next.authRefused = false;
      effects.push({ type: "arm-stable", ms: policy.stableMs });
      break;
    case "stable":
      if (m.phase === "online") next.attempt = 0;
      break;
    case "refused":
      if (m.phase !== "connecting") break;
      next.authRefused = isAuthRefusal(input.code);
      break; // the "closed" that follows schedules the retry
    case "closed": {
      if (m.phase !== "connecting" && m.phase !== "online") break;
      effects.push({ type: "cancel" });
      // Fail over to the next broker only when this one did not get us online.
      if (!m.wasOnline && m.brokers > 1) next.broker = (m.broker + 1) % m.brokers;
      next.phase = "backoff";
      next.wasOnline = false;
      if (m.authRefused) {
        effects.push({ type: "wait", ms: refusedDelay(policy, random), why: "refused" });
      } else {
        effects.push({ type: "wait", ms: retryDelay(policy, m.attempt, random), why: "backoff" });
      }
      next.attempt = m.attempt + 1;
      next.authRefused = false;
      break;
    }
    case "stop":
      if (m.phase === "offline") break;
      effects.push({ type: "cancel" });
      if (m.phase === "connecting" || m.phase === "online") effects.push({ type: "disconnect" });
      next.phase = "offline";
      next.wasOnline = false;
      break;
  }
  return { model: next, effects };
}
