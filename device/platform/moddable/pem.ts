/**
 * PEM to DER for the broker CA: SocketOptions carry PEM text (portable), Moddable's TLS stack
 * wants DER bytes. Only the first certificate in the text is used, like Moddable's own
 * Transform.pemToDER.
 */
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN [A-Z ]+-----([\s\S]*?)-----END [A-Z ]+-----/.exec(pem);
  if (!m) throw new Error("pem: no BEGIN/END block");
  const body = m[1].replace(/[\s=]/g, "");
  const out = new Uint8Array(Math.floor((body.length * 6) / 8));
  let bits = 0;
  let acc = 0;
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const v = B64.indexOf(body[i]);
    if (v < 0) throw new Error(`pem: bad base64 character at ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
}
