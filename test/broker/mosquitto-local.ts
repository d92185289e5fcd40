/**
 * Starts Debian's Mosquitto on a free loopback port for the conformance suite, with a
 * throwaway config (anonymous, no persistence). Used until the MQTT engineer's shared
 * test/helpers/mosquitto.ts exists; returns undefined when the binary is not installed
 * (scripts/ensure-debian-packages.sh installs it).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const MOSQUITTO_BIN = "/usr/sbin/mosquitto";

export interface LocalMosquitto {
  host: string;
  port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export async function startLocalMosquitto(): Promise<LocalMosquitto | undefined> {
  if (!fs.existsSync(MOSQUITTO_BIN)) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-mosq-"));
  const port = await freePort();
  const conf = path.join(dir, "mosquitto.conf");
  fs.writeFileSync(conf, [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", "log_dest stderr", "log_type error", ""].join("\n"));
  const child = spawn(MOSQUITTO_BIN, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  for (let i = 0; i < 100; i++) {
    if (await canConnect(port)) {
      return {
        host: "127.0.0.1",
        port,
        stop: async () => {
          child.kill("SIGTERM");
          await exited;
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`mosquitto did not start on port ${port}: ${stderr}`);
}
