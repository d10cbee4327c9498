/**
 * clang writes no parameter names into BTF (or DWARF) for `extern` kfunc declarations, so an object alone
 * gives `u64 f(u32, u64)`. These helpers recover the names from a text that declares the function — the
 * object's own C source (named in its line info) or a kfunc header — so prototypes read like the source.
 */

/** Source files named by the object's BTF.ext line info (the .c file the object was compiled from first). */
export function sourceFilesOf(lineInfoFiles: Iterable<string>): string[] {
  return [...new Set(lineInfoFiles)].filter((f) => f.length > 0);
}

const KEYWORDS = new Set([
  "const",
  "volatile",
  "restrict",
  "struct",
  "union",
  "enum",
  "unsigned",
  "signed",
  "int",
  "long",
  "short",
  "char",
  "void",
  "__u8",
  "__u16",
  "__u32",
  "__u64",
  "__s8",
  "__s16",
  "__s32",
  "__s64",
  "u8",
  "u16",
  "u32",
  "u64",
  "s8",
  "s16",
  "s32",
  "s64",
  "bool",
  "_Bool",
  "__arg_trusted",
  "__arg_nullable",
]);

function splitTopLevel(params: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of params) {
    if (ch === "(" || ch === "[") depth++;
    else if (ch === ")" || ch === "]") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out;
}

/** The declarator name of one parameter ("const struct task_struct *p" → "p"; "u32" → ""). */
function paramName(param: string): string {
  const fnPtr = /\(\s*\*\s*([A-Za-z_]\w*)\s*\)/.exec(param);
  if (fnPtr) return fnPtr[1]!;
  const words = param.replace(/\[[^\]]*\]/g, "").match(/[A-Za-z_]\w*/g) ?? [];
  const last = words[words.length - 1];
  return words.length >= 2 && last && !KEYWORDS.has(last) ? last : "";
}

/**
 * Parameter names of `name` as declared in C `text`, or undefined when the text does not declare it with
 * `count` parameters (we never guess).
 */
export function paramNamesFromC(text: string, name: string, count: number): string[] | undefined {
  const re = new RegExp(`\\b${name}\\s*\\(([^;{]*?)\\)\\s*(?:__ksym|__weak|__attribute__|;|\\{)`, "g");
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const params = splitTopLevel(m[1]!.replace(/\/\*.*?\*\//gs, ""));
    if (params.length === 1 && params[0]!.trim() === "void" && count === 0) return [];
    if (params.length !== count) continue;
    const names = params.map(paramName);
    if (names.every((n) => n)) return names;
  }
  return undefined;
}

/** Adds names to the parameters of a prototype printed without any (`u64 f(u32, u64)` → `u64 f(u32 a, u64 b)`). */
export function nameParams(prototype: string, names: string[]): string {
  const open = prototype.indexOf("(");
  const close = prototype.lastIndexOf(")");
  if (open < 0 || close < open) return prototype;
  const params = splitTopLevel(prototype.slice(open + 1, close));
  if (params.length !== names.length) return prototype;
  const named = params.map((p, i) => {
    const t = p.trim();
    return /\*$/.test(t) ? `${t}${names[i]}` : `${t} ${names[i]}`;
  });
  return `${prototype.slice(0, open + 1)}${named.join(", ")}${prototype.slice(close)}`;
}
