/** The failure records both test backends (kernel and userspace runtime) build the same way. */
import { formatError, isKfuncKitError } from "../errors.ts";
import type { TestFailure } from "./types.ts";

/** What a thrown error says, for a failure's `got`. */
export function describeThrown(e: unknown): string {
  return isKfuncKitError(e) ? formatError(e) : String(e);
}

/** The failure of run `run` (0-based) of `runs` when its retval is not the expected one; undefined when it is. */
export function retvalFailure(
  expected: number | "any",
  got: number,
  run: number,
  runs: number,
): TestFailure | undefined {
  if (expected === "any" || got === expected) return undefined;
  return {
    kind: "retval",
    expected: `retval ${expected}`,
    got: `retval ${got}${runs > 1 ? ` (run ${run + 1} of ${runs})` : ""}`,
  };
}
