import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/temp";
import { KvError } from "../../device/ports";
import { FileKv } from "../../device/platform/node/kv";
import { MemoryKv } from "../../host-sim/virtual/kv";
import { NvsFlashKv } from "../../host-sim/virtual/nvs-flash";
import { SimFlash } from "../../host-sim/virtual/flash";
import { SeededRandom } from "../../host-sim/virtual/random";

describe.each([
  ["MemoryKv", () => new MemoryKv()],
  ["FileKv", () => new FileKv(join(tempDir("tether-kv-"), "kv.json"))],
  ["NvsFlashKv", () => new NvsFlashKv(new SimFlash([{ name: "storage", size: 6 * 4096 }]).open("storage"))],
])("%s", (_name, make) => {
  it("stores copies: mutating what was set or got does not change the store", () => {
    const kv = make();
    const v = new Uint8Array([1, 2, 3]);
    kv.set("seq", v);
    v[0] = 9;
    const got = kv.get("seq")!;
    expect([...got]).toEqual([1, 2, 3]);
    got[1] = 9;
    expect([...kv.get("seq")!]).toEqual([1, 2, 3]);
  });

  it("stores copies of long values too, when the store reuses their buffers (random sets, replaces, deletes; fixed seeds)", () => {
    for (const seed of [1, 2, 3]) {
      const kv = make();
      const model = new Map<string, number[]>();
      const r = new SeededRandom(seed);
      const handedOut: [Uint8Array, number[]][] = [];
      for (let op = 0; op < 300; op++) {
        const key = `k${r.below(4)}`;
        if (r.below(3) === 0) {
          kv.delete(key);
          model.delete(key);
        } else {
          const v = new Uint8Array(r.below(3) === 0 ? r.below(65) : 65 + r.below(200));
          r.fill(v);
          kv.set(key, v);
          model.set(key, [...v]);
          v.fill(0xee); // the caller reuses its buffer
        }
        const got = kv.get(key);
        expect(got && [...got], `seed ${seed} op ${op}`).toEqual(model.get(key));
        if (got) {
          handedOut.push([got, [...got]]);
          got.fill(0xdd); // the caller scribbles on what it got
        }
        for (const [k, want] of model) expect([...kv.get(k)!], `seed ${seed} op ${op} ${k}`).toEqual(want);
      }
      // What get() returned earlier is the caller's: later sets into reused buffers never touch it.
      for (const [b] of handedOut) expect(b.every((x) => x === 0xdd)).toBe(true);
    }
  });

  it("enforces the NVS limits with a KvError naming the problem", () => {
    const kv = make();
    expect(() => kv.set("a-key-that-is-too-long", new Uint8Array(1))).toThrowError(KvError);
    expect(() => kv.set("", new Uint8Array(1))).toThrowError(/1\.\.15/);
    expect(() => kv.set("big", new Uint8Array(4001))).toThrowError(/max 4000/);
    kv.set("exactly15chars!", new Uint8Array(4000));
    expect(kv.get("exactly15chars!")!.length).toBe(4000);
  });

  it("lists and deletes keys", () => {
    const kv = make();
    kv.set("b", new Uint8Array([2]));
    kv.set("a", new Uint8Array([1]));
    expect(kv.keys()).toEqual(["a", "b"]);
    kv.delete("a");
    kv.delete("missing");
    expect(kv.keys()).toEqual(["b"]);
    expect(kv.get("a")).toBeUndefined();
  });
});

describe("MemoryKv capacity", () => {
  it("refuses a write that does not fit and keeps the old value", () => {
    const kv = new MemoryKv(200);
    kv.set("k", new Uint8Array(100));
    expect(() => kv.set("k2", new Uint8Array(100))).toThrowError(/no room/);
    expect(kv.get("k")!.length).toBe(100);
    kv.set("k", new Uint8Array(150)); // replacing frees the old entry first
  });
});

describe("FileKv persistence", () => {
  it("survives a reopen and reports a corrupt file clearly instead of discarding it", () => {
    const dir = tempDir("tether-kv-");
    const path = join(dir, "kv.json");
    new FileKv(path).set("id", new TextEncoder().encode("dev-1"));
    expect(new TextDecoder().decode(new FileKv(path).get("id"))).toBe("dev-1");
    writeFileSync(path, "{not json");
    expect(() => new FileKv(path)).toThrowError(/not valid JSON/);
    expect(readFileSync(path, "utf8")).toBe("{not json");
  });
});
