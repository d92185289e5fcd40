/**
 * Starts a real Mosquitto (Debian's package) on a free loopback port for one test file,
 * and kills it on teardown. Nothing depends on a broker already running. If the binary is
 * missing the start fails with a clear message (CI runs scripts/ensure-debian-packages.sh first).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? "/usr/sbin/mosquitto";
const START_TIMEOUT_MS = 10_000;

export interface MosquittoOptions {
  /** Extra config lines (after the listener line; `listener` lines add listeners). */
  config?: string[];
  /** Files to write into the broker's directory first (name → content); `{dir}` in config is replaced. */
  files?: Record<string, string>;
  /** Skip the default `allow_anonymous true`. */
  noAnonymous?: boolean;
}

export interface Mosquitto {
  host: "127.0.0.1";
  port: number;
  dir: string;
  /** What the broker logged so far. */
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
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

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  if (!fs.existsSync(MOSQUITTO_BIN)) {
    throw new Error(
      `Mosquitto not found at ${MOSQUITTO_BIN}. Install Debian's package: scripts/ensure-debian-packages.sh ` +
        `(apt-get install mosquitto), or set MOSQUITTO_BIN.`,
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-mosquitto-"));
  fs.chmodSync(dir, 0o755); // mosquitto may drop privileges when started as root
  for (const [name, content] of Object.entries(options.files ?? {})) {
    fs.writeFileSync(path.join(dir, name), content, { mode: 0o644 });
  }
  let lastError = "";
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const lines = [
      `listener ${port} 127.0.0.1`,
      ...(options.noAnonymous ? [] : ["allow_anonymous true"]),
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      // "Opening ipv4 listen socket on port N" proves that *this* broker owns the port.
      "log_type information",
      ...(process.getuid?.() === 0 ? ["user root"] : []),
      ...(options.config ?? []).map((l) => l.replaceAll("{dir}", dir)),
    ];
    const conf = path.join(dir, "mosquitto.conf");
    fs.writeFileSync(conf, lines.join("\n") + "\n", { mode: 0o644 });
    const proc = spawn(MOSQUITTO_BIN, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    proc.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    proc.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    let exited = false;
    proc.once("exit", () => (exited = true));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && !exited) {
      // freePort() frees the port before Mosquitto binds it: someone else may take it, so
      // trust the port only once our broker says it listens there and is still alive.
      if (output.includes(`listen socket on port ${port}`) && (await canConnect(port)) && !exited) return handle(proc, port, dir, () => output);
      await new Promise((r) => setTimeout(r, 50));
    }
    await kill(proc);
    lastError = exited ? `mosquitto exited at start:\n${output}` : `mosquitto did not accept on port ${port} within ${START_TIMEOUT_MS} ms:\n${output}`;
    if (!/Address already in use/i.test(output)) break;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(lastError);
}

function kill(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
    proc.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill("SIGTERM");
  });
}

function handle(proc: ChildProcess, port: number, dir: string, log: () => string): Mosquitto {
  let stopped = false;
  return {
    host: "127.0.0.1",
    port,
    dir,
    log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill(proc);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
