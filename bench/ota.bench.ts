/**
 * OTA benchmarks, with the real Agent (host-sim/node-device.ts boots the agent build in its
 * flash slot, as `tether device` does):
 * - XS computrons of the manifest signature check: tweetnacl vs @noble/ed25519 (same manifest);
 * - update time of a 1.5 MB image (a real agent build, padded) over a loopback Mosquitto
 *   (push → confirmed v2) against the raw time to move the same bytes with mosquitto_pub /
 *   mosquitto_sub, as a ratio;
 * - bytes downloaded again after the link is cut mid-download at the transport (no MQTT
 *   DISCONNECT; the agent reconnects on its own).
 * Timings: OTA_ROUNDS (default 5) measured rounds after one warm-up round, min/median/max; in
 * each round the raw transfer (the peer) runs between the updates, so machine load hits both.
 * Computrons and byte counts are deterministic and come from one run.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spread, xsComputrons } from "./lib/measure";
import { startMosquitto } from "../test/helpers/mosquitto";
import { nodeNetwork } from "../device/platform/node/network";
import { nodeSha256 } from "../device/platform/node/sha256";
import { versionNumber } from "../device/core/ota/version";
import { OtaResult } from "../device/core/ota/codes";
import type { OtaStatus } from "../device/core/ota/status";
import { startNodeDevice, type RunningDevice } from "../host-sim/node-device";
import { LinkCutter } from "../host-sim/boot/link-cutter";
import { createBundle, keyPairFromSeed, type Bundle } from "../tools/ota/bundle";
import { pushBundle } from "../tools/ota/push";
import { agentPayload } from "../test/ota/agent-image";

const HW = "tether-devkit";
const IMAGE_BYTES = 1_572_864; // 1.5 MiB
const ROUNDS = Number(process.env.OTA_ROUNDS ?? 5);
const key = keyPairFromSeed(new Uint8Array(32).fill(7));

interface BenchDevice {
  dev: RunningDevice;
  cutter: LinkCutter;
  statuses: OtaStatus[];
  online: () => boolean;
}

/** A virtual device running this build's agent (factory image), on its own in-memory flash. */
async function device(port: number, id: string, window = 4): Promise<BenchDevice> {
  const cutter = new LinkCutter(nodeNetwork);
  const statuses: OtaStatus[] = [];
  let online = false;
  const dev = await startNodeDevice({
    deviceId: id,
    brokers: [`mqtt://127.0.0.1:${port}`],
    network: cutter,
    ota: { hardwareId: HW, trustedKeys: [key.publicKey], options: { window } },
    link: { backoff: { powerOnMaxMs: 0 } },
    log: () => {},
    onEvent: (e) => {
      if (e.type === "ota") statuses.push(e.status);
      if (e.type === "link") online = e.state === "online";
    },
  });
  return { dev, cutter, statuses, online: () => online };
}

function waitFor(cond: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => (cond() ? resolve() : Date.now() - t0 > ms ? reject(new Error("timeout")) : setTimeout(tick, 2));
    tick();
  });
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
    p.once("error", reject);
    p.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

/** mosquitto_sub waits for N messages while mosquitto_pub sends the image (one message, and as blocks). */
async function rawTransfer(port: number, image: Uint8Array): Promise<{ oneMessageMs: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-raw-"));
  const file = path.join(dir, "image.bin");
  fs.writeFileSync(file, image);
  try {
    const sub = spawn("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(port), "-t", "raw/image", "-q", "1", "-C", "1"], { stdio: ["ignore", "ignore", "inherit"] });
    const done = new Promise<void>((resolve) => sub.once("exit", () => resolve()));
    await new Promise((r) => setTimeout(r, 300)); // let the subscription land
    const t0 = performance.now();
    await run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-t", "raw/image", "-q", "1", "-f", file]);
    await done;
    return { oneMessageMs: performance.now() - t0 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export default async () => {
  const sig = await xsComputrons(new URL("../test/xs/scenarios/ota-sigcost.scenario.ts", import.meta.url), { timeoutMs: 300_000 });
  const v2: Bundle = createBundle(await agentPayload("0.2.0", IMAGE_BYTES - 64), { version: versionNumber("0.2.0"), hardwareId: HW, securityCounter: 2 }, key.secretKey, nodeSha256);
  const confirmed = (d: BenchDevice) => d.statuses.some((s) => s.result === OtaResult.Success && s.version === v2.manifest.version && s.detail === "image confirmed");
  const broker = await startMosquitto();
  try {
    // 1. Full update time (push until the device reports v2 confirmed), default window and a wider one.
    const update = async (id: string, window: number) => {
      const a = await device(broker.port, id, window);
      await waitFor(a.online, 20_000);
      const t0 = performance.now();
      const pushed = await pushBundle({ broker: `mqtt://127.0.0.1:${broker.port}`, deviceId: id, envelope: v2.envelope, image: v2.image, waitSeconds: 120 });
      const ms = performance.now() - t0;
      a.dev.stop();
      if (!pushed.ok) throw new Error(`update failed: ${JSON.stringify(pushed.status)}`);
      return { ms, pushed };
    };
    // 3. The link cut at the transport half-way through the download: bytes fetched again.
    const linkCut = async (id: string) => {
      const b = await device(broker.port, id);
      await waitFor(b.online, 20_000);
      const t0 = performance.now();
      const push = pushBundle({ broker: `mqtt://127.0.0.1:${broker.port}`, deviceId: id, envelope: v2.envelope, image: v2.image, waitSeconds: 120 });
      const before = b.cutter.bytesIn;
      const half = v2.image.length / 2;
      await waitFor(() => b.cutter.bytesIn - before >= half, 60_000);
      b.cutter.cut();
      const atCut = b.cutter.bytesIn - before;
      await waitFor(() => confirmed(b), 120_000);
      const ms = performance.now() - t0;
      const total = b.cutter.bytesIn - before;
      b.dev.stop();
      await push;
      return { ms, atCut, total };
    };

    const times = { window4: [] as number[], window16: [] as number[], raw: [] as number[], linkCut: [] as number[], ratio4: [] as number[], ratio16: [] as number[] };
    let pushed: Awaited<ReturnType<typeof update>>["pushed"] | undefined;
    let cut: Awaited<ReturnType<typeof linkCut>> | undefined;
    for (let round = 0; round <= ROUNDS; round++) {
      const w4 = await update(`bench-ota-${round}`, 4);
      // 2. Raw bytes with the Mosquitto clients: the peer, between the updates of the same round.
      const raw = await rawTransfer(broker.port, v2.image);
      const w16 = await update(`bench-ota-w${round}`, 16);
      const c = await linkCut(`bench-ota-cut${round}`);
      if (round === 0) continue; // warm-up
      pushed = w4.pushed;
      cut = c;
      times.window4.push(w4.ms);
      times.window16.push(w16.ms);
      times.raw.push(raw.oneMessageMs);
      times.linkCut.push(c.ms);
      times.ratio4.push(w4.ms / raw.oneMessageMs);
      times.ratio16.push(w16.ms / raw.oneMessageMs);
    }
    if (!pushed || !cut) throw new Error("OTA_ROUNDS must be at least 1");

    const tweet = sig.metrics["tweetnacl-verify"];
    const noble = sig.metrics["noble-verify"];
    return {
      signatureCheckXs: {
        manifestBytes: sig.metrics["manifest-bytes"],
        tweetnaclComputrons: tweet,
        nobleComputrons: noble,
        tweetnaclOverNoble: Math.round((tweet / noble) * 100) / 100,
        tweetnaclMsOnXsX86: sig.metrics["tweetnacl-verify-ms"],
        nobleMsOnXsX86: sig.metrics["noble-verify-ms"],
        bothAccept: sig.metrics["both-accept"] === 1,
      },
      rounds: { measured: ROUNDS, warmup: 1, timings: "min/median/max over the measured rounds; computrons and bytes: one run (deterministic)" },
      update1_5MB: {
        device: "real Agent (agent build booted from its flash slot), reference boot model",
        imageBytes: v2.image.length,
        blocks: pushed.blocks,
        pushToConfirmedMs: spread(times.window4),
        rawMosquittoPubSubMs: spread(times.raw),
        ratio: spread(times.ratio4, 1),
        window16PushToConfirmedMs: spread(times.window16),
        window16Ratio: spread(times.ratio16, 1),
      },
      linkCutMidDownload: {
        how: "TCP connection closed under the agent, no MQTT DISCONNECT; the agent reconnects by itself",
        imageBytes: v2.image.length,
        tcpBytesInBeforeCut: cut.atCut,
        tcpBytesInTotal: cut.total,
        /** Bytes received beyond the image itself, over both connections (MQTT framing, topics, the retained manifest twice, blocks in flight at the cut): last round. */
        tcpBytesBeyondImage: cut.total - v2.image.length,
        pushToConfirmedMs: spread(times.linkCut),
      },
    };
  } finally {
    await broker.stop();
  }
};
