/**
 * A hostile (or careless) publisher on the broker, as a scenario fault: messages a device must
 * survive without going offline, crashing, looping or losing telemetry. Every kind publishes
 * through the broker like any client could, on the topics the device subscribes to
 * (docs/protocol/mqtt.md, docs/protocol/ota.md). Payloads come from the run seed. Node-free.
 */
import { otaTopics } from "../../device/core/ota/topics";
import { topics } from "../../device/core/topics";
import type { SeededRandom } from "../virtual/random";

export const HOSTILE_MESSAGES = [
  /** One message larger than the device's packet limit (16 KiB), QoS 1: redelivered on every resumed session. */
  "oversized",
  /** CBOR arrays nested `depth` deep (a few dozen bytes that overflow a recursive decoder). */
  "deep-cbor",
  /** Random bytes. */
  "garbage",
  /** A real offer whose manifest arrives again and again while it downloads, and after. */
  "duplicate-offer",
  /** A real offer withdrawn (empty retained manifest) while it downloads: it must not be installed. */
  "withdrawn-offer",
  /** A signed offer whose manifest names another version than the image carries (an operator's typo). */
  "version-mismatch",
  /** Retained poison on every topic the device subscribes to: config, manifest, first block. */
  "retained-poison",
] as const;
export type HostileMessage = (typeof HOSTILE_MESSAGES)[number];

/** The topics hostile messages go to (the device subscribes to both). */
export const HOSTILE_TOPICS = ["config", "manifest"] as const;
export type HostileTopic = (typeof HOSTILE_TOPICS)[number];

export const OVERSIZED_DEFAULT_BYTES = 20_000;
export const DEEP_CBOR_DEFAULT_DEPTH = 1_000;
const GARBAGE_BYTES = 64;
/** duplicate-offer: the manifest is published again this often, this many times. */
export const DUPLICATE_EVERY_MS = 1_500;
export const DUPLICATES = 12;
/** withdrawn-offer: the offer is withdrawn this long after it was made: mid-download (80 blocks take ~200 ms on the virtual network). */
export const WITHDRAW_AFTER_MS = 100;

/** CBOR: `depth` one-element arrays around a 0. */
export function deepCbor(depth: number): Uint8Array {
  const out = new Uint8Array(depth + 1).fill(0x81);
  out[depth] = 0x00;
  return out;
}

export function randomBytes(r: SeededRandom, n: number): Uint8Array {
  const out = new Uint8Array(n);
  r.fill(out);
  return out;
}

export function hostileTopic(deviceId: string, topic: HostileTopic): string {
  return topic === "config" ? topics(deviceId).config : otaTopics(deviceId).manifest;
}

/** What retained-poison leaves on each subscribed topic. */
export function poisonedTopics(deviceId: string, r: SeededRandom): [string, Uint8Array][] {
  return [
    [topics(deviceId).config, deepCbor(DEEP_CBOR_DEFAULT_DEPTH)],
    [otaTopics(deviceId).manifest, randomBytes(r, GARBAGE_BYTES)],
  ];
}

/** The single-message kinds: the payload. */
export function hostilePayload(message: "oversized" | "deep-cbor" | "garbage", r: SeededRandom, o: { bytes: number; depth: number }): Uint8Array {
  switch (message) {
    case "oversized":
      return randomBytes(r, o.bytes);
    case "deep-cbor":
      return deepCbor(o.depth);
    case "garbage":
      return randomBytes(r, GARBAGE_BYTES);
  }
}
