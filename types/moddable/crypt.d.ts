/**
 * `crypt` — Moddable's native digests (modules/crypt/digest).
 * Moddable documentation: documentation/crypt/crypt.md, "class Digest (Crypt)":
 * `new Digest(type)` with "MD5" | "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512",
 * `write(message)` with a String or ArrayBuffer (any number of times), `close()` returns the
 * hash as an ArrayBuffer and may be called once.
 */
declare module "crypt" {
  export class Digest {
    constructor(type: "MD5" | "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512");
    write(message: string | ArrayBuffer): void;
    close(): ArrayBuffer;
    reset(): void;
  }
}
