/**
 * `tether ota push`: the reference publisher. It only does what a shell script with
 * mosquitto_pub could do (docs/protocol/ota.md): every block retained at QoS 1 on the shared
 * tether/ota/image/<image sha256 hex>/block/<n>, then the signed manifest retained on
 * tether/<id>/ota/manifest.
 * With `wait` it also follows tether/<id>/ota/status until the device reports the outcome.
 */
import mqtt from "mqtt";
import { resultName } from "../../device/core/ota/codes";
import { parseEnvelope, parseManifest } from "../../device/core/ota/manifest";
import { decodeStatus, type OtaStatus } from "../../device/core/ota/status";
import { imageBlockTopic, otaTopics } from "../../device/core/ota/topics";
import { bytesEqual } from "../../device/core/ota/bytes";
import { nodeSha256 } from "../../device/platform/node/sha256";
import { sha256Of, toHex } from "../../device/core/ota/bytes";
import { splitBlocks } from "./bundle";
import { bundleLimitProblem } from "./limits";
import { otherDevicesOffered } from "./retained-offers";

export interface PushOptions {
  /** Broker URL without a password (credentials go in username/password). */
  broker: string;
  username?: string;
  password?: string;
  /** PEM CA for mqtts://. */
  ca?: string;
  deviceId: string;
  envelope: Uint8Array;
  image: Uint8Array;
  /** Seconds to wait for the device's final status (0: do not wait). */
  waitSeconds?: number;
  /**
   * After a final status, publish empty retained messages to clear the offer: the manifest, and the
   * shared blocks unless the broker still holds another device's offer of the same image (or this
   * account cannot read the retained manifests to tell).
   */
  clear?: boolean;
  log?: (line: string) => void;
}

export interface PushResult {
  version: number;
  blocks: number;
  bytes: number;
  /** The final status, when waited for. */
  status?: OtaStatus;
  /** With `clear`: whether the shared image blocks were cleared too. */
  blocksCleared?: boolean;
  ok: boolean;
}

/**
 * Whether `s` ends the update attempt for this offer. A status names its offer by offer id (the
 * SHA-256 of the manifest message) or by version; a refusal that names neither (an envelope the device could not read, an unknown
 * key: results 6, 100, 101 from devices that predate offer ids) is taken as the answer to the
 * offer just published, since nothing else was offered to that device since.
 */
export function isFinal(s: OtaStatus, version: number, offerId: Uint8Array): boolean {
  if (s.state !== 0 || s.result === 0 || s.result === 11) return false;
  if (s.offer !== undefined) return bytesEqual(s.offer, offerId);
  if (s.version !== undefined) return s.version === version;
  return s.result !== 1;
}

export async function pushBundle(o: PushOptions): Promise<PushResult> {
  const log = o.log ?? (() => {});
  // Refuse to publish something that is not even a manifest (the device would refuse it too).
  const manifest = parseManifest(parseEnvelope(o.envelope).manifestBytes);
  if (o.image.length !== manifest.length) throw new Error(`image is ${o.image.length} bytes, manifest says ${manifest.length}`);
  const tooBig = bundleLimitProblem(o.envelope, manifest);
  if (tooBig !== undefined) throw new Error(`not pushing: ${tooBig}`);
  const offerId = sha256Of(nodeSha256, o.envelope);
  const topics = otaTopics(o.deviceId);
  const imageHex = toHex(manifest.sha256);
  const blocks = splitBlocks(o.image, manifest.blockSize);
  const client = await mqtt.connectAsync(o.broker, {
    clientId: `tether-push-${process.pid}-${Date.now() % 100000}`,
    clean: true,
    reconnectPeriod: 0,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
  });
  try {
    let final: Promise<OtaStatus> | undefined;
    let offered = false;
    if (o.waitSeconds) {
      final = new Promise<OtaStatus>((resolve) => {
        client.on("message", (topic, payload, packet) => {
          // The retained status predates this push (MQTT 3.1.1 §3.3.1.3: live forwards have retain 0).
          if (topic !== topics.status || packet.retain) return;
          try {
            const s = decodeStatus(new Uint8Array(payload));
            log(`status: state ${s.state} result ${s.result} (${resultName(s.result)}) version ${s.version ?? "-"} running ${s.running}${s.detail ? ` — ${s.detail}` : ""}`);
            // Before the manifest is out, a status can only be about an earlier offer.
            if (offered && isFinal(s, manifest.version, offerId)) resolve(s);
          } catch {
            /* not a status message */
          }
        });
      });
      await client.subscribeAsync(topics.status, { qos: 1 });
    }
    // A bounded window of QoS 1 publishes in flight keeps loopback fast without flooding the broker.
    const WINDOW = 32;
    for (let i = 0; i < blocks.length; i += WINDOW) {
      await Promise.all(blocks.slice(i, i + WINDOW).map((b, k) => client.publishAsync(imageBlockTopic(imageHex, i + k), Buffer.from(b), { qos: 1, retain: true })));
    }
    offered = true;
    await client.publishAsync(topics.manifest, Buffer.from(o.envelope), { qos: 1, retain: true });
    log(`pushed version ${manifest.version}: ${blocks.length} blocks, ${o.image.length} bytes, to ${o.deviceId}`);
    const result: PushResult = { version: manifest.version, blocks: blocks.length, bytes: o.image.length, ok: true };
    if (final) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), (o.waitSeconds ?? 0) * 1000)));
      const s = await Promise.race([final, timeout]);
      clearTimeout(timer);
      result.status = s;
      result.ok = s !== undefined && s.result === 1;
      if (!s) log(`no final status from ${o.deviceId} within ${o.waitSeconds} s`);
      if (o.clear && s) {
        // Read the other offers while this device's manifest is still retained: seeing it proves the account may read them.
        const others = await otherDevicesOffered(client, imageHex, o.deviceId);
        await client.publishAsync(topics.manifest, Buffer.alloc(0), { qos: 1, retain: true });
        if (others === undefined) {
          log(`offer cleared; image blocks kept: this account cannot read the retained manifests (tether/+/ota/manifest) to know no other device needs them`);
        } else if (others.length > 0) {
          log(`offer cleared; image blocks kept: still offered to ${others.length} other device(s) (${others.slice(0, 3).join(", ")}${others.length > 3 ? ", …" : ""})`);
        } else {
          for (let i = 0; i < blocks.length; i++) await client.publishAsync(imageBlockTopic(imageHex, i), Buffer.alloc(0), { qos: 1, retain: true });
          log(`offer and its ${blocks.length} image blocks cleared`);
        }
        result.blocksCleared = others !== undefined && others.length === 0;
      }
    }
    return result;
  } finally {
    await client.endAsync();
  }
}
