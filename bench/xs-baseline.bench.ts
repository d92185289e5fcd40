// Baseline costs of the XS tier: an empty scenario, and a cbor-x encode of a small record
// (XS computrons, deterministic), with the Node throughput and heap of the same encode.
import { Encoder } from "cbor-x";
import { heapPerItem, opsPerSecond, xsComputrons } from "./lib/measure";
import { sampleRecord } from "./lib/scenarios/sample-record";

export default async () => {
  const empty = await xsComputrons(new URL("./lib/scenarios/empty.scenario.ts", import.meta.url));
  const cbor = await xsComputrons(new URL("./lib/scenarios/cbor-encode.scenario.ts", import.meta.url));

  const encoder = new Encoder({ useRecords: false, tagUint8Array: false } as ConstructorParameters<typeof Encoder>[0]);
  let seq = 0;
  const nodeEncode = await opsPerSecond(() => encoder.encode(sampleRecord(seq++)), { minMs: 1000 });
  const bytesPerRecordCopy = heapPerItem((i) => Uint8Array.from(encoder.encode(sampleRecord(i))), 20_000);

  return {
    xs: {
      emptyScenarioComputrons: empty.computrons,
      cborEncoderSetupComputrons: cbor.metrics["encoder-setup"],
      cborEncodeFirstComputrons: cbor.metrics["encode-first"],
      cborEncodeWarmComputrons: cbor.metrics["encode-warm"],
      cborRecordBytes: cbor.metrics["record-bytes"],
    },
    node: {
      cborEncodeOpsPerSec: Math.round(nodeEncode.opsPerSec),
      cborEncodeNsPerOp: Math.round(nodeEncode.nsPerOp),
      heapBytesPerEncodedRecord: Math.round(bytesPerRecordCopy),
    },
  };
};
