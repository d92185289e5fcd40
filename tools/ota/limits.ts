/**
 * What a device refuses before it looks at a signature: an MQTT packet over its receive limit
 * (the manifest message, or one block message) and a block size that is not a whole number of
 * flash erase blocks. `ota sign` refuses to write such a bundle, `ota verify` and `ota push`
 * refuse to pass it on. The packet limit is the device's own constant, not a copy.
 */
import { DEFAULT_MAX_PACKET } from "../../device/core/mqtt/parser";
import { FLASH_BLOCK_SIZE } from "../../host-sim/layout";
import type { Manifest } from "../../device/core/ota/manifest";

/** The ESP32's flash erase block (the simulated flash uses the same). */
export const ERASE_BLOCK = FLASH_BLOCK_SIZE;
/**
 * Bytes a PUBLISH spends besides its payload: topic length (2) + the longest OTA topic Tether uses
 * (the shared tether/ota/image/<64 hex>/block/<n>),
 * rounded up with room to spare, + packet id (2).
 */
export const PUBLISH_OVERHEAD = 2 + 128 + 2;
/** The largest payload a device accepts in one message. */
export const MAX_MESSAGE_PAYLOAD = DEFAULT_MAX_PACKET - PUBLISH_OVERHEAD;

/** Block sizes a device accepts: powers of two, multiples of the erase block, a block message within the packet limit. */
export function allowedBlockSizes(): number[] {
  const out: number[] = [];
  for (let b = ERASE_BLOCK; b <= MAX_MESSAGE_PAYLOAD; b *= 2) out.push(b);
  return out;
}

/** Why a device would refuse the block size, or undefined. */
export function blockSizeProblem(blockSize: number): string | undefined {
  if (blockSize % ERASE_BLOCK !== 0) return `block size ${blockSize} is not a multiple of the ${ERASE_BLOCK}-byte flash erase block (allowed: ${allowedBlockSizes().join(", ")})`;
  if (blockSize > MAX_MESSAGE_PAYLOAD) {
    return `block size ${blockSize}: a block message would exceed the device's ${DEFAULT_MAX_PACKET}-byte MQTT packet limit (allowed: ${allowedBlockSizes().join(", ")})`;
  }
  return undefined;
}

/** Why a device would refuse this bundle's messages, or undefined. */
export function bundleLimitProblem(envelope: Uint8Array, m: Pick<Manifest, "blockSize" | "length">): string | undefined {
  const block = blockSizeProblem(m.blockSize);
  if (block !== undefined) return block;
  if (envelope.length > MAX_MESSAGE_PAYLOAD) {
    const perBlock = 32;
    const maxBlocks = Math.floor((MAX_MESSAGE_PAYLOAD - (envelope.length - Math.ceil(m.length / m.blockSize) * perBlock)) / perBlock);
    return (
      `the signed manifest is ${envelope.length} bytes; a device accepts at most ${MAX_MESSAGE_PAYLOAD} in one MQTT message ` +
      `(its packet limit is ${DEFAULT_MAX_PACKET}): at ${m.blockSize}-byte blocks that is about ${Math.max(0, maxBlocks)} blocks, ` +
      `${Math.max(0, maxBlocks) * m.blockSize} bytes of image; use larger blocks or a smaller image`
    );
  }
  return undefined;
}
