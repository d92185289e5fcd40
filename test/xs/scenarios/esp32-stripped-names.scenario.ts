/**
 * The board links the agent with an xsl `strip` list, and then built-in functions have no `name`
 * while the preloaded bundle's top level runs (xs/tools/xslSlot.c, fxNewFunctionName, Moddable
 * SDK 8.2.3). The first import below removes those names before anything else of the bundle is
 * evaluated; cbor-x's top level used to read `TypedArray.name` and threw "cannot coerce undefined
 * to object". Run in XS only (a fresh xsnap process): the runner needs its built-ins intact.
 */
import "./helpers/strip-builtin-names";
import type { ScenarioHost } from "../scenario-host";
import { cborDecode, cborEncode } from "../../../device/core/util/cbor";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function run(host: ScenarioHost): void {
  host.emit(`names: Uint8Array=${typeof Uint8Array.name} Float64Array=${typeof Float64Array.name}`);
  // A telemetry-like message round trip: the agent's own use of cbor-x.
  const bytes = cborEncode(new Map<number, unknown>([[0, 1], [1, "dev-1"], [2, Uint8Array.of(1, 2, 3)], [3, [-5, 70000]]]));
  host.emit(`encoded: ${hex(bytes)}`);
  const back = cborDecode(bytes) as Map<number, unknown>;
  host.emit(`decoded: ${back.get(1)} ${hex(back.get(2) as Uint8Array)} ${JSON.stringify(back.get(3))}`);
  // RFC 8746 typed arrays: the patched table must still pick the right DataView getter
  // (tag 65: uint16 big endian, 69: uint16 little endian, 78: int32 little endian, 86: float64 LE).
  const cases: [string, number[]][] = [
    ["uint16be", [0xd8, 0x41, 0x44, 0x00, 0x01, 0x01, 0x02]],
    ["uint16le", [0xd8, 0x45, 0x44, 0x01, 0x00, 0x02, 0x01]],
    ["int32le", [0xd8, 0x4e, 0x44, 0xfe, 0xff, 0xff, 0xff]],
    ["float64le", [0xd8, 0x56, 0x48, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f]],
  ];
  for (const [name, b] of cases) {
    try {
      const v = cborDecode(Uint8Array.from(b)) as ArrayLike<number> & { constructor: unknown };
      host.emit(`${name}: ${Array.from(v).join(",")}`);
    } catch (e) {
      host.emit(`${name}: threw ${String(e)}`);
    }
  }
  host.emit("done");
}
