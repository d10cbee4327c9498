/**
 * Numeric CLI options, range-checked against what the field they end up in can hold: a value that
 * would wrap (a u32 repeat count) or overflow (a Node timer) is refused, never silently changed.
 */
import { UsageError } from "../errors.ts";

/** Node's timers take at most 2^31-1 ms (~24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const U32_MAX = 2 ** 32 - 1;

/** An integer option in [min, max]; `field` says where it goes, for the message. */
export function intOption(flag: string, raw: string, min: number, max: number, field: string): number {
  const n = /^[+]?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new UsageError(`${flag} '${raw}': expected a whole number from ${min} to ${max}`);
  if (n < min || n > max)
    throw new UsageError(`${flag} '${raw}': out of range, must be ${min}…${max} (${field})`);
  return n;
}

/** A duration in seconds (> 0, fractions allowed) as milliseconds that fit a Node timer. */
export function secondsOption(flag: string, raw: string): number {
  const n = raw.trim() === "" ? Number.NaN : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} '${raw}': expected seconds > 0`);
  const ms = Math.ceil(n * 1000);
  if (ms > MAX_TIMER_MS)
    throw new UsageError(
      `${flag} '${raw}': out of range, at most ${Math.floor(MAX_TIMER_MS / 1000)} s (~24 days, the longest timer Node has)`,
    );
  return ms;
}
