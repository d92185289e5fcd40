/** A small telemetry-like record, integers only (shared by the XS scenario and the Node half). */
export function sampleRecord(seq: number) {
  return {
    v: 1,
    id: "dev-000001",
    seq,
    up: 86_400_000 + seq * 5000,
    batt: { mv: 3712 - (seq % 50), pct: 64, status: 0 },
    temp: 2150 + (seq % 7),
    rh: 455,
    rssi: -67,
  };
}
