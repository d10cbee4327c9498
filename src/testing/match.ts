/**
 * test_loader's message matching (tools/testing/selftests/bpf/test_loader.c, 6.12): a pattern is literal
 * text with `{{…}}` parts that are POSIX extended regular expressions (compiled with REG_NEWLINE); the
 * patterns must match the log in order, each search starting where the previous match ended. Disassembly
 * patterns (`__xlated`, `__jited`) must also match on consecutive lines unless separated by "...".
 */

import type { TestFailure } from "./types.ts";

export interface Pattern {
  /** The annotation's text as written. */
  text: string;
  /** Set when the text has `{{regex}}` parts. */
  regex: RegExp | undefined;
  /** Disassembly patterns: must match on the line after the previous match. */
  onNextLine: boolean;
}

const POSIX_CLASSES: Record<string, string> = {
  alpha: "A-Za-z",
  digit: "0-9",
  alnum: "A-Za-z0-9",
  upper: "A-Z",
  lower: "a-z",
  space: " \\t\\n\\r\\f\\v",
  blank: " \\t",
  punct: "!-\\/:-@\\[-`{-~",
  xdigit: "0-9A-Fa-f",
  word: "A-Za-z0-9_",
};

/** Escapes what test_loader escapes outside `{{…}}`: `.[]\()*+?{}|^$`. */
const escapeLiteral = (s: string) => s.replace(/[.[\]\\()*+?{}|^$/]/g, "\\$&");

/**
 * Compiles a pattern; throws an Error whose message says what is wrong (an open `{{`, a bad regex) —
 * the caller names the file, program and annotation.
 */
export function compilePattern(text: string, onNextLine = false): Pattern {
  if (!text.includes("{{")) return { text, regex: undefined, onNextLine };
  let src = "";
  let rest = text;
  while (rest.length > 0) {
    const open = rest.indexOf("{{");
    if (open < 0) {
      src += escapeLiteral(rest);
      break;
    }
    src += escapeLiteral(rest.slice(0, open));
    const close = rest.indexOf("}}", open + 2);
    if (close < 0) throw new Error(`'${text}': an open '{{' without a closing '}}'`);
    src += rest.slice(open + 2, close).replace(/\[:([a-z]+):\]/g, (m, c: string) => POSIX_CLASSES[c] ?? m);
    rest = rest.slice(close + 2);
  }
  try {
    // REG_NEWLINE: '.' and negated brackets do not match a newline, ^ and $ match at line boundaries
    return { text, regex: new RegExp(src, "m"), onNextLine };
  } catch (e) {
    throw new Error(`'${text}': invalid regular expression /${src}/: ${(e as Error).message}`);
  }
}

export interface MatchFailure {
  /** Index of the pattern that did not match. */
  index: number;
  pattern: Pattern;
  /** The patterns before it, which matched. */
  matched: Pattern[];
  /** It matched, but not on the line after the previous match. */
  wrongLine: { expected: number; actual: number } | undefined;
}

/** Matches the patterns against the text in order; undefined when all match (test_loader's validate_msgs). */
export function matchInOrder(text: string, patterns: Pattern[]): MatchFailure | undefined {
  let pos = 0;
  let scanned = 0;
  let line = 0;
  let prevLine = -1;
  for (const [i, p] of patterns.entries()) {
    let at = -1;
    if (!p.regex) {
      at = text.indexOf(p.text, pos);
      if (at >= 0) pos = at + p.text.length;
    } else {
      const m = p.regex.exec(text.slice(pos));
      if (m) {
        at = pos + m.index;
        pos = at + m[0].length;
      }
    }
    let wrongLine: MatchFailure["wrongLine"];
    if (at >= 0) {
      for (; scanned < at; scanned++) if (text.charCodeAt(scanned) === 10) line++;
      if (p.onNextLine && prevLine >= 0 && prevLine + 1 !== line)
        wrongLine = { expected: prevLine + 1, actual: line };
    }
    if (at < 0 || wrongLine) return { index: i, pattern: p, matched: patterns.slice(0, i), wrongLine };
    prevLine = line;
  }
  return undefined;
}

/** How a failure names a pattern: test_loader's SUBSTR / REGEX prefix, then the text. */
export function describePattern(p: Pattern): string {
  return `${p.regex ? "REGEX " : "SUBSTR"} '${p.text}'`;
}

/** The failure of a `__printk` expectation: the pattern that did not come, and the last lines `where` had. */
export function printkFailure(p: Pattern, lines: string[], where: string): TestFailure {
  return {
    kind: "printk",
    expected: `a bpf_printk line with ${describePattern(p)}`,
    got: lines.length ? `${where}:\n${lines.slice(-8).join("\n")}` : "no bpf_printk output",
  };
}
