/**
 * The one kernel version type and parser. A release (`uname -r`: "6.12.95+deb12-amd64", "6.1.0-37-amd64",
 * "6.18.44-fc") or a Debian package version ("6.12.95-1~bpo12+1") → `{ major, minor, patch }`.
 */
export interface KernelVersion {
  major: number;
  minor: number;
  patch: number;
}

/** The leading `major.minor[.patch]` of a release or package version; undefined when there is none. */
export function parseKernelVersion(s: string): KernelVersion | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(s.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

export function versionAtLeast(v: KernelVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/** "6.12" (what feature tables compare against). */
export function formatVersion(v: KernelVersion): string {
  return `${v.major}.${v.minor}`;
}

/** LINUX_VERSION_CODE: major << 16 | minor << 8 | min(patch, 255). */
export function versionCode(v: KernelVersion): number {
  return (v.major << 16) | (v.minor << 8) | Math.min(255, v.patch);
}
