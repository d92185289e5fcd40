/** `tether decode [FILE]`: a CBOR telemetry batch (file or stdin) → text, or JSON with --json. */
import { readFileSync } from "node:fs";
import { decodeTelemetryBatch } from "../../device/core/telemetry/record";
import { formatTelemetry } from "../../device/core/telemetry/format";
import { parseFlags } from "../args";

export async function runDecode(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { json: { type: "boolean" }, help: { type: "boolean" } });
  if (values.help) {
    process.stdout.write("usage: tether decode [FILE] [--json]   (reads stdin without FILE)\n");
    return 0;
  }
  const bytes = new Uint8Array(positionals[0] ? readFileSync(positionals[0]) : readFileSync(0));
  const batch = decodeTelemetryBatch(bytes);
  process.stdout.write((values.json ? JSON.stringify(batch) : formatTelemetry(batch)) + "\n");
  return 0;
}
