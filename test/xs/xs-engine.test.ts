// Proves the XS tier harness itself: the engine runs, traces match Node, every kind of
// failure is caught (xsnap exits 0 for several of them), and metering is deterministic.
import { beforeAll, describe, expect, it } from "vitest";
import { ensureXsnap, runScenarioInXs, runScenarioOnNode, XsScenarioError } from "./harness";

const fixture = (name: string) => new URL(`./fixtures/${name}.scenario.ts`, import.meta.url);
/** For scenarios that are meant to fail: do not keep their bundles around. */
const failing = { keep: "never" } as const;

beforeAll(async () => {
  await ensureXsnap();
}, 180_000);

describe("XS engine harness", () => {
  it("runs a scenario in XS and its trace is byte-identical to Node's", async () => {
    const xs = await runScenarioInXs(fixture("trace"));
    const node = await runScenarioOnNode(fixture("trace"));
    expect(xs.lines[0]).toBe("boot");
    expect(xs.lines.at(-1)).toBe("done");
    expect(xs.lines.length).toBeGreaterThan(10);
    expect(xs.lines.join("\n")).toBe(node.lines.join("\n"));
  });

  it("fails when run() throws synchronously", async () => {
    const err = await runScenarioInXs(fixture("throw-sync"), failing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XsScenarioError);
    expect(String(err)).toMatch(/synchronous failure in run/);
  });

  it("fails when the module throws at top level (xsnap -m would exit 0)", async () => {
    const err = await runScenarioInXs(fixture("throw-toplevel"), failing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XsScenarioError);
    expect(String(err)).toMatch(/top-level failure while evaluating the module/);
  });

  it("fails on an unhandled rejection even though run() resolved", async () => {
    const err = await runScenarioInXs(fixture("unhandled-rejection"), failing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XsScenarioError);
    expect(String(err)).toMatch(/unhandled rejection/i);
    expect(String(err)).toMatch(/forgotten rejection/);
  });

  it("fails when run() never settles (no completion sentinel)", async () => {
    const err = await runScenarioInXs(fixture("never-settles"), failing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XsScenarioError);
    expect(String(err)).toMatch(/no completion sentinel/);
  });

  it("kills a scenario that spins forever (hang guard)", async () => {
    const err = await runScenarioInXs(fixture("busy-loop"), { ...failing, timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XsScenarioError);
    expect(String(err)).toMatch(/timed out/);
  });

  it("aborts a scenario that exceeds its computron limit (deterministic hang guard)", async () => {
    const err = await runScenarioInXs(fixture("busy-loop"), { ...failing, meteringLimit: 5_000_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XsScenarioError);
    expect(String(err)).toMatch(/too much computation/);
  });

  it("refuses to bundle a scenario that imports a Node builtin", async () => {
    await expect(runScenarioInXs(fixture("node-builtin"), failing)).rejects.toThrow(/Node builtin "node:crypto"/);
  });

  it("meters a fixed loop deterministically", async () => {
    const a = await runScenarioInXs(fixture("meter-loop"));
    const b = await runScenarioInXs(fixture("meter-loop"));
    const cost = Number(/^computrons (\d+)$/.exec(a.lines[1] ?? "")?.[1]);
    expect(cost).toBeGreaterThan(0);
    expect(a.lines).toEqual(b.lines);
    expect(a.computrons).toBe(b.computrons);
    expect(a.computrons).toBeGreaterThanOrEqual(cost);
    const node = await runScenarioOnNode(fixture("meter-loop"));
    expect(node.lines).toEqual([a.lines[0], "computrons 0"]);
  });

  it("encodes identical CBOR bytes with cbor-x (useRecords: false) on XS and Node", async () => {
    const xs = await runScenarioInXs(fixture("cbor"));
    const node = await runScenarioOnNode(fixture("cbor"));
    expect(xs.lines[0]).toMatch(/^cbor [0-9a-f]+$/);
    expect(xs.lines).toEqual(node.lines);
    expect(xs.lines[1]).toBe("decoded dev-1 3712 a/bb/ccc");
  });

  it("verifies an ed25519 signature with tweetnacl under XS, with device randomness refused", async () => {
    const xs = await runScenarioInXs(fixture("nacl-verify"));
    expect(xs.lines).toEqual(["verify true", "verify-cost-positive true", "tampered false", "randomness refused"]);
    const node = await runScenarioOnNode(fixture("nacl-verify"));
    expect(node.lines).toEqual(xs.lines);
  });
});
