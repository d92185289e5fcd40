/**
 * `--shards K`: one failing shard worker ends the run at once and stops its siblings (before,
 * the others ran their whole simulation before `tether sim` reported the failure).
 */
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { awaitShards } from "../../host-sim/fleet/run";

const worker = (code: string) => new Worker(code, { eval: true });
// Posts progress forever and never a result: a long shard.
const LONG = `const { parentPort } = require("node:worker_threads"); setInterval(() => parentPort.postMessage({ progress: 1 }), 5);`;
const exited = (w: Worker) => new Promise<number>((resolve) => w.once("exit", resolve));

describe("shard supervision", () => {
  it("a shard that throws fails the run and terminates the others", async () => {
    const workers = [worker(LONG), worker(`setTimeout(() => { throw new Error("shard boom"); }, 20);`), worker(LONG)];
    const exits = workers.map(exited);
    const t0 = performance.now();
    await expect(awaitShards(workers, () => {})).rejects.toThrow("shard boom");
    await Promise.all(exits); // the long shards were stopped, not left running
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it("a shard that exits without a result fails the run", async () => {
    const workers = [worker(LONG), worker(`process.exit(3);`)];
    const exits = workers.map(exited);
    await expect(awaitShards(workers, () => {})).rejects.toThrow(/shard 1 exited with code 3 before its result/);
    await Promise.all(exits);
  });

  it("results come back in worker order and every message is seen", async () => {
    const post = (delay: number, value: number) =>
      worker(`const { parentPort } = require("node:worker_threads"); parentPort.postMessage({ progress: ${value} }); setTimeout(() => parentPort.postMessage({ result: ${value} }), ${delay});`);
    const seen: [number, unknown][] = [];
    const results = await awaitShards<{ progress?: number; result?: number }>([post(60, 10), post(0, 20)], (i, m) => seen.push([i, m.progress ?? m.result]));
    expect(results).toEqual([10, 20]);
    expect(seen.filter(([, v]) => v === 10).length).toBe(2);
    expect(seen.filter(([, v]) => v === 20).length).toBe(2);
  });
});
