/** SHA-256 port on Node: node:crypto (native, like Moddable's crypt Digest on the board). */
import { createHash } from "node:crypto";
import type { Sha256 } from "../../ports";

export const nodeSha256: Sha256 = {
  create() {
    const hash = createHash("sha256");
    return {
      update: (bytes: Uint8Array) => void hash.update(bytes),
      digest: () => new Uint8Array(hash.digest()),
    };
  },
};
