/** Randomness on Node: the OS CSPRNG. */
import { randomFillSync } from "node:crypto";
import type { Random } from "../../ports";

export const nodeRandom: Random = {
  nextU32(): number {
    return randomFillSync(new Uint32Array(1))[0];
  },
  fill(bytes: Uint8Array): void {
    randomFillSync(bytes);
  },
};
