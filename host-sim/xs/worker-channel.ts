/**
 * A synchronous line to one xsnap-worker process (Node only). The fleet runs under one virtual
 * clock in one synchronous loop, so a device inside XS must answer before the clock moves on:
 * the host writes a command and blocks reading until the worker has answered it, serving the
 * worker's own port calls (issueCommand) on the way.
 *
 * xsnap-worker reads netstring commands on fd 3 and writes netstrings on fd 4
 * (xsnap-worker.c: `?` handleCommand, `s` run a script, `.` done + meter JSON + \x01 + result,
 * `!` error, `?` from the worker = issueCommand, answered with `/`). Node's own pipes are
 * non-blocking, so the two fds are named FIFOs that a shell opens for the worker while this
 * process opens the other ends with plain blocking fs calls; when the worker dies the read end
 * sees EOF, and what it printed (stack overflow, memory full, too much computation) is in the
 * stderr file.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** xsnap-worker's exit codes (xsnap-worker.c), by what XS aborted for. */
const EXIT_REASONS: Record<number, string> = {
  11: "memory full",
  12: "stack overflow",
  15: "unhandled exception",
  16: "not enough keys",
  17: "too much computation",
};

/** The worker died: `reason` from its exit status (its build prints no fxAbort report), `stderr` what it wrote. */
export class WorkerExited extends Error {
  constructor(
    readonly status: number | undefined,
    readonly stderr: string,
  ) {
    const reason = status === undefined ? "status unknown" : (EXIT_REASONS[status] ?? `exit status ${status}`);
    super(`xsnap-worker exited: ${reason}${stderr.trim() ? ` (${stderr.trim().split("\n").slice(-2).join(" / ")})` : ""}`);
    this.name = "WorkerExited";
  }

  get reason(): string | undefined {
    return this.status === undefined ? undefined : EXIT_REASONS[this.status];
  }
}

/** How long to wait for the shell to record a dead worker's exit status. */
const STATUS_WAIT_MS = 5_000;

export interface WorkerReply {
  /** "." done, "!" error. */
  kind: "." | "!";
  /** Computrons the command cost ("." only). */
  compute: number;
  body: Uint8Array;
}

const DIGIT_0 = 48;
const COLON = 58;

export class WorkerChannel {
  private readonly dir: string;
  private readonly child: ChildProcess;
  private readonly toFd: number;
  private readonly fromFd: number;
  private buf = Buffer.alloc(1 << 16);
  private start = 0;
  private end = 0;
  private closed = false;

  constructor(bin: string, args: string[]) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-xs-dev-"));
    const to = path.join(this.dir, "to");
    const from = path.join(this.dir, "from");
    execFileSync("mkfifo", [to, from]);
    // The shell opens fd 3 (read) then fd 4 (write) for the worker; each open waits for ours, in
    // that order. It keeps neither open itself, and records the worker's exit status.
    const script = '"$0" "$@" 3<"$TETHER_TO" 4>"$TETHER_FROM" 2>"$TETHER_ERR" >/dev/null; echo $? > "$TETHER_STATUS.tmp"; mv "$TETHER_STATUS.tmp" "$TETHER_STATUS"';
    this.child = spawn("/bin/sh", ["-c", script, bin, ...args], {
      stdio: "ignore",
      // Its own process group: close() kills the shell and the worker together.
      detached: true,
      env: { ...process.env, TETHER_TO: to, TETHER_FROM: from, TETHER_ERR: path.join(this.dir, "stderr"), TETHER_STATUS: path.join(this.dir, "status") },
    });
    this.child.unref();
    this.toFd = fs.openSync(to, "w");
    this.fromFd = fs.openSync(from, "r");
    fs.rmSync(to);
    fs.rmSync(from);
  }

  /** Sends `prefix` + `body` as one netstring. */
  send(prefix: string, body: Uint8Array = new Uint8Array(0)): void {
    const head = Buffer.from(`${prefix.length + body.length}:${prefix}`, "latin1");
    const msg = Buffer.concat([head, body, Buffer.from(",")]);
    try {
      for (let off = 0; off < msg.length; ) off += fs.writeSync(this.toFd, msg, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EPIPE") throw this.exited();
      throw e;
    }
  }

  /** Blocks for the next netstring from the worker: [first byte, rest]. */
  receive(): { kind: string; payload: Uint8Array } {
    let colon = -1;
    for (;;) {
      for (let i = this.start; i < this.end; i++) {
        if (this.buf[i] === COLON) {
          colon = i;
          break;
        }
      }
      if (colon >= 0) break;
      this.fill();
    }
    let length = 0;
    for (let i = this.start; i < colon; i++) length = length * 10 + (this.buf[i] - DIGIT_0);
    const total = colon + 1 + length + 1 - this.start;
    while (this.end - this.start < total) this.fill();
    const body = this.buf.subarray(colon + 1, colon + 1 + length);
    const out = { kind: String.fromCharCode(body[0]), payload: new Uint8Array(body.subarray(1)) };
    this.start += total;
    return out;
  }

  /** Reads one reply to a command, answering port calls with `serve` meanwhile. */
  command(prefix: string, body: Uint8Array | undefined, serve: (call: Uint8Array) => Uint8Array): WorkerReply {
    this.send(prefix, body);
    for (;;) {
      const m = this.receive();
      if (m.kind === "?") {
        this.send("/", serve(m.payload));
        continue;
      }
      if (m.kind === ".") {
        const sep = m.payload.indexOf(1);
        const meter = JSON.parse(Buffer.from(m.payload.subarray(0, sep)).toString("latin1")) as { compute?: number };
        return { kind: ".", compute: meter.compute ?? 0, body: m.payload.subarray(sep + 1) };
      }
      if (m.kind === "!") return { kind: "!", compute: 0, body: m.payload };
      throw new Error(`xsnap-worker: unexpected reply "${m.kind}"`);
    }
  }

  /** Kills the worker and frees its files; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      process.kill(-this.child.pid!, "SIGKILL");
    } catch {
      // Already gone.
    }
    fs.closeSync(this.toFd);
    fs.closeSync(this.fromFd);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private fill(): void {
    if (this.start > 0 && this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger, 0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
      this.buf = bigger;
    }
    const n = fs.readSync(this.fromFd, this.buf, this.end, this.buf.length - this.end, null);
    if (n === 0) throw this.exited();
    this.end += n;
  }

  private exited(): WorkerExited {
    const read = (name: string) => {
      try {
        return fs.readFileSync(path.join(this.dir, name), "utf8");
      } catch {
        return undefined;
      }
    };
    // EOF comes as the worker exits; the shell writes its status a moment later.
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    let status = read("status");
    for (let waited = 0; status === undefined && waited < STATUS_WAIT_MS; waited += 2) {
      Atomics.wait(sleeper, 0, 0, 2);
      status = read("status");
    }
    return new WorkerExited(status === undefined ? undefined : Number.parseInt(status, 10), read("stderr") ?? "");
  }
}
