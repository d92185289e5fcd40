/**
 * OTA versions are u32 integers so a device compares them without parsing strings;
 * MAJOR.MINOR.PATCH maps to MAJOR*1_000_000 + MINOR*1_000 + PATCH (each part 0..999).
 * A pre-release suffix ("0.1.0-dev") is ignored: it sorts with its release.
 */
export function versionNumber(s: string): number {
  const semver = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:[-+].*)?$/.exec(s);
  const n = semver ? Number(semver[1]) * 1_000_000 + Number(semver[2]) * 1_000 + Number(semver[3]) : /^\d{1,10}$/.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`version "${s}": an integer or MAJOR.MINOR.PATCH`);
  return n;
}

export function versionString(n: number): string {
  return `${Math.floor(n / 1_000_000)}.${Math.floor(n / 1_000) % 1_000}.${n % 1_000}`;
}
