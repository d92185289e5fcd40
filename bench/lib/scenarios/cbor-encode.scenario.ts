import { Encoder } from "cbor-x";
import type { ScenarioHost } from "../../../test/xs/scenario-host";
import { sampleRecord } from "./sample-record";

/** cbor-x cost on XS: building an encoder, the first encode, and a warmed encode. */
export function run(host: ScenarioHost): void {
  host.meter();
  const encoder = new Encoder({ useRecords: false, tagUint8Array: false } as ConstructorParameters<typeof Encoder>[0]);
  const setup = host.meter();
  let bytes = encoder.encode(sampleRecord(0));
  const first = host.meter();
  const N = 20;
  for (let i = 1; i <= N; i++) bytes = encoder.encode(sampleRecord(i));
  const warm = Math.round(host.meter() / N);
  // Emit only after measuring, so printing is not counted.
  host.emit(`encoder-setup ${setup}`);
  host.emit(`encode-first ${first}`);
  host.emit(`encode-warm ${warm}`);
  host.emit(`record-bytes ${bytes.length}`);
}
