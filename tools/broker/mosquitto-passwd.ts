/**
 * Mosquitto 2 password file lines: `user:$7$<iterations>$<salt>$<hash>`, PBKDF2-HMAC-SHA512 with a
 * 12-byte random salt and a 64-byte derived key, both base64 (what mosquitto_passwd 2.0 writes:
 * src/password_mosq.c, pw__hash with PW_SHA512_PBKDF2; checked against the real tool in the tests).
 */
import { pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

/** Mosquitto 2.0's own default (PW_DEFAULT_ITERATIONS). The passwords here are 192-bit random, so the count adds little. */
export const MOSQUITTO_PBKDF2_ITERATIONS = 101;
const SALT_BYTES = 12;
const HASH_BYTES = 64;
const PBKDF2_SHA512 = 7;

export function mosquittoPasswordLine(user: string, password: string, iterations = MOSQUITTO_PBKDF2_ITERATIONS, salt: Uint8Array = randomBytes(SALT_BYTES)): string {
  if (user.includes(":") || /[\r\n]/.test(user)) throw new Error(`user name "${user}" cannot go in a Mosquitto password file`);
  const hash = pbkdf2Sync(password, salt, iterations, HASH_BYTES, "sha512");
  return `${user}:$${PBKDF2_SHA512}$${iterations}$${Buffer.from(salt).toString("base64")}$${hash.toString("base64")}`;
}

/** Whether a password file line accepts `password` (for tests and `tether broker check`-style use). */
export function mosquittoPasswordMatches(line: string, password: string): boolean {
  const m = /^[^:]+:\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(line.trim());
  if (m === null) return false;
  const expected = Buffer.from(m[3], "base64");
  const got = pbkdf2Sync(password, Buffer.from(m[2], "base64"), Number(m[1]), expected.length, "sha512");
  return got.length === expected.length && timingSafeEqual(got, expected);
}
