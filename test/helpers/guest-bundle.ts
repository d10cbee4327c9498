/**
 * Bundles a TypeScript entry (a script that runs inside the QEMU guest) into one ESM file: in the guest every
 * file comes from the host over 9p, and under TCG each file opened costs milliseconds. The bundler is the test
 * runner's own (src/testing/run.ts `bundleForGuest`).
 */
import { basename, isAbsolute, join } from "node:path";
import { bundleForGuest } from "../../src/testing/run.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

export function bundleGuestScript(entry: string): string {
  return bundleForGuest(
    isAbsolute(entry) ? entry : join(ROOT, entry),
    `${basename(entry).replace(/\.m?ts$/, "")}-${process.pid}`,
  );
}
