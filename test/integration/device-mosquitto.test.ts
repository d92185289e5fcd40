// `tether device` against a real Mosquitto: what mosquitto_sub catches decodes with a plain
// CBOR decoder (no Tether code) to the documented record, and a restarted device with the
// same --state keeps its identity and sequence numbers.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "cbor-x";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto";
import { buildCli, removeCli, runCli } from "../helpers/cli";

const SUB = "/usr/bin/mosquitto_sub";

/** One raw message from mosquitto_sub (-N: no newline added, so binary payloads stay exact). */
function catchOne(port: number, topic: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const sub = spawn(SUB, ["-h", "127.0.0.1", "-p", String(port), "-t", topic, "-C", "1", "-N", "-W", "30"]);
    const chunks: Buffer[] = [];
    let err = "";
    sub.stdout.on("data", (c: Buffer) => chunks.push(c));
    sub.stderr.on("data", (c: Buffer) => (err += c));
    sub.on("error", reject);
    sub.on("exit", (code) => (code === 0 ? resolve(new Uint8Array(Buffer.concat(chunks))) : reject(new Error(`mosquitto_sub exited ${code}: ${err}`))));
  });
}

describe("tether device on a real Mosquitto", () => {
  let broker: Mosquitto;
  let cli: string;
  beforeAll(async () => {
    [broker, cli] = await Promise.all([startMosquitto(), buildCli("device-mosquitto")]);
  });
  afterAll(async () => {
    await broker?.stop();
    if (cli) removeCli(cli);
  });

  it("publishes CBOR any decoder reads as the documented record; state survives a restart", async () => {
    const state = mkdtempSync(join(tmpdir(), "tether-it-"));
    const args = ["device", "--id", "it-1", "--broker", `mqtt://127.0.0.1:${broker.port}`, "--state", state, "--interval", "400", "--sample", "200", "--power-on-max", "0", "--json"];

    const caught = catchOne(broker.port, "tether/it-1/telemetry");
    const first = runCli(cli, args);
    const raw = await caught;
    await first.waitFor(/"type":"telemetry"/);
    expect(await first.stop()).toBe(0);

    // Plain cbor-x decode: integer keys as documented in docs/protocol/telemetry.md.
    const record = decode(Buffer.from(raw)) as Record<number, unknown>;
    expect(record[0]).toBe(1); // format
    expect(record[1]).toBe("it-1"); // device id
    expect(typeof record[2]).toBe("number"); // sequence number
    expect(record[3]).toBe("0.1.0-dev"); // firmware
    expect(record[4]).toBe(0); // running slot
    expect(record[6]).toBe(1); // time base: wall (the host clock is synced)
    const battery = record[11] as Record<number, number>;
    expect(battery[0]).toBeGreaterThan(3000); // mV
    expect(battery[1]).toBeGreaterThanOrEqual(90); // % — a fresh simulated cell starts near full
    expect(battery[1]).toBeLessThanOrEqual(100);
    expect(Array.isArray(record[12])).toBe(true); // samples
    const firstSeq = record[2] as number;

    // Same state dir: the sequence carries on upwards.
    const again = catchOne(broker.port, "tether/it-1/telemetry");
    const second = runCli(cli, args);
    let next = decode(Buffer.from(await again)) as Record<number, unknown>;
    if (next[2] === firstSeq) {
      // The first run stopped before that record's PUBACK came: at-least-once, the restarted
      // device sends it again (DUP) before anything new. It must be the same record.
      expect(next).toEqual(record);
      next = decode(Buffer.from(await catchOne(broker.port, "tether/it-1/telemetry"))) as Record<number, unknown>;
    }
    expect(await second.stop()).toBe(0);
    expect(next[1]).toBe("it-1");
    expect(next[2] as number).toBeGreaterThan(firstSeq);
    rmSync(state, { recursive: true, force: true });
  });

  it("says what is wrong with bad flags instead of starting", async () => {
    const bad = runCli(cli, ["device", "--id", "x", "--broker", "http://nope"]);
    const code = await new Promise<number | null>((r) => bad.child.once("exit", r));
    expect(code).not.toBe(0);
    expect(bad.stderr()).toMatch(/not mqtt:\/\/host/);
  });
});
