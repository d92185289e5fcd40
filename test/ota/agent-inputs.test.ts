/**
 * Malicious and broken OTA inputs against the whole agent, over MQTT on the virtual broker:
 * each is refused with its documented result code, nothing touches the running slot, and
 * telemetry goes on without a gap while it happens.
 */
import { describe, expect, it } from "vitest";
import { Agent } from "../../device/core/agent";
import { OtaResult } from "../../device/core/ota/codes";
import { decodeStatus } from "../../device/core/ota/status";
import { encodeEnvelope, parseEnvelope, parseManifest } from "../../device/core/ota/manifest";
import { toHex } from "../../device/core/ota/bytes";
import { decodeTelemetryBatch } from "../../device/core/telemetry/record";
import { splitBlocks, type Bundle } from "../../tools/ota/bundle";
import { VirtualBroker } from "../../host-sim/broker/virtual-broker";
import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork } from "../../host-sim/virtual/network";
import { blankStorage, virtualDevicePorts } from "../../host-sim/virtual-device";
import { bundle, KEY, ROGUE_KEY } from "./fixtures";

const MIN = 60_000;
const ID = "ota-in";
const RUNNING = 1000; // "0.1.0-dev", the version this test build of the agent reports

/** The shared block topic's image hash; a broken envelope (refused before any block) gets a dummy one. */
function imageHexOf(envelope: Uint8Array): string {
  try {
    return toHex(parseManifest(parseEnvelope(envelope).manifestBytes).sha256);
  } catch {
    return "0".repeat(64);
  }
}

function offer(broker: VirtualBroker, b: { envelope: Uint8Array; blocks: Uint8Array[] }): void {
  const image = imageHexOf(b.envelope);
  b.blocks.forEach((bytes, n) => broker.publishInternal(`tether/ota/image/${image}/block/${n}`, bytes, { qos: 1, retain: true }));
  broker.publishInternal(`tether/${ID}/ota/manifest`, b.envelope, { qos: 1, retain: true });
}

const blocksOf = (b: Bundle) => splitBlocks(b.image, b.manifest.blockSize);

function refuse(make: () => { envelope: Uint8Array; blocks: Uint8Array[] }, runMs = 20 * MIN) {
  const clock = new VirtualClock();
  const network = new VirtualNetwork(clock);
  const broker = new VirtualBroker(network).start();
  const storage = blankStorage();
  const runningWrites: string[] = [];
  storage.flash.fault = (op) => {
    if (op.partition === "ota_0") runningWrites.push(`${op.kind}@${op.offset}`);
    return undefined;
  };
  const seqs: number[] = [];
  const statuses: ReturnType<typeof decodeStatus>[] = [];
  broker.subscribeInternal(`tether/${ID}/telemetry`, (_t, p) => seqs.push(decodeTelemetryBatch(p).seq));
  broker.subscribeInternal(`tether/${ID}/ota/status`, (_t, p) => statuses.push(decodeStatus(p)));
  const device = virtualDevicePorts({ seed: 5, clock, network, storage });
  const agent = new Agent(device.ports, {
    deviceId: ID,
    brokers: ["mqtt://broker:1883"],
    telemetry: { sampleIntervalMs: 10_000, reportIntervalMs: 30_000 },
    ota: { trustedKeys: [KEY.publicKey] },
  });
  agent.start();
  clock.advance(MIN);
  offer(broker, make());
  clock.advance(runMs);
  agent.stop();
  // Telemetry went on the whole time: every batch made was delivered, in order, no gap.
  const unique = [...new Set(seqs)];
  expect(unique).toEqual(unique.map((_, i) => unique[0] + i));
  expect(unique.length).toBeGreaterThanOrEqual(Math.floor((MIN + runMs) / 30_000) - 2);
  expect(runningWrites).toEqual([]);
  expect(device.ports.boot.runningSlot()).toBe(0);
  const final = statuses.at(-1)!;
  expect(final.running).toBe(RUNNING);
  return final;
}

describe("malicious OTA inputs against the running agent", () => {
  it("a bad signature → 100", () => {
    const b = bundle(2000);
    const env = parseEnvelope(b.envelope);
    const sig = env.signature.slice();
    sig[5] ^= 1;
    expect(refuse(() => ({ envelope: encodeEnvelope({ ...env, signature: sig }), blocks: blocksOf(b) })).result).toBe(OtaResult.SignatureRejected);
  });

  it("an unknown key → 101", () => {
    const b = bundle(2000, { secretKey: ROGUE_KEY.secretKey });
    expect(refuse(() => ({ envelope: b.envelope, blocks: blocksOf(b) })).result).toBe(OtaResult.UnknownKey);
  });

  it("garbage instead of CBOR → 6", () => {
    expect(refuse(() => ({ envelope: new Uint8Array([0xff, 0x00, 0x13, 0x37]), blocks: [] })).result).toBe(OtaResult.UnsupportedPackage);
  });

  it("wrong hardware → 103, a downgrade → 102", () => {
    const other = bundle(2000, { hardwareId: "other-board" });
    expect(refuse(() => ({ envelope: other.envelope, blocks: blocksOf(other) })).result).toBe(OtaResult.WrongHardware);
    const older = bundle(999);
    expect(refuse(() => ({ envelope: older.envelope, blocks: blocksOf(older) })).result).toBe(OtaResult.DowngradeRefused);
  });

  it("an image that does not match its hashes → 5, with the spare slot written but never booted", () => {
    const b = bundle(2000);
    const blocks = blocksOf(b).map((x, i) => (i === 2 ? x.map((v, j) => (j === 7 ? v ^ 0xff : v)) : x));
    expect(refuse(() => ({ envelope: b.envelope, blocks })).result).toBe(OtaResult.IntegrityFailure);
  });

  it("a truncated image (last block missing) → 4 after the retries, telemetry unharmed", () => {
    const b = bundle(2000);
    expect(refuse(() => ({ envelope: b.envelope, blocks: blocksOf(b).slice(0, -1) }), 40 * MIN).result).toBe(OtaResult.ConnectionLost);
  });
});
