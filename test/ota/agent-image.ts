/** Real agent builds as slot images: what `tether device` boots, optionally padded to a size. */
import { buildAgentPayload } from "../../tools/ota/app-image";

/** The agent built as `version`, padded with a trailing comment to at least `size` bytes. */
export async function agentPayload(version: string, size = 0): Promise<Uint8Array> {
  const code = await buildAgentPayload(version);
  if (code.length >= size) return code;
  const pad = new TextEncoder().encode(`\n/*${"-".repeat(size - code.length - 5)}*/\n`);
  const out = new Uint8Array(code.length + pad.length);
  out.set(code);
  out.set(pad, code.length);
  return out;
}
