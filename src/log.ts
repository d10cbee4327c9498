/**
 * The logging hook. No module calls console.* directly: they call `log.warn/info/debug`.
 * `setLogger(fn | null)` swaps the sink and returns the previous one; null silences.
 * Default: stderr, filtered by KFUNC_KIT_LOG_LEVEL (warn | info | debug; default warn).
 */
export type LogLevel = "warn" | "info" | "debug";
export type Logger = (level: LogLevel, message: string) => void;

const ORDER: Record<LogLevel, number> = { warn: 0, info: 1, debug: 2 };

function envLevel(): LogLevel {
  const v = typeof process !== "undefined" ? process.env["KFUNC_KIT_LOG_LEVEL"] : undefined;
  return v === "info" || v === "debug" ? v : "warn";
}

const defaultLogger: Logger = (level, message) => {
  if (ORDER[level] <= ORDER[envLevel()]) process.stderr.write(`kfunc-kit: ${message}\n`);
};

let current: Logger | null = defaultLogger;

export function setLogger(fn: Logger | null): Logger | null {
  const prev = current;
  current = fn;
  return prev;
}

function emit(level: LogLevel, message: string): void {
  try {
    current?.(level, message);
  } catch {
    // a logger never throws into the caller
  }
}

export const log = {
  warn: (m: string) => emit("warn", m),
  info: (m: string) => emit("info", m),
  debug: (m: string) => emit("debug", m),
};
