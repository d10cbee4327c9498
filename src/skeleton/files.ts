/** Generating a skeleton next to (or for) an object file, and `--check`ing a checked-in one. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, relative, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { type GeneratedSkeleton, type GenerateSkeletonOptions, generateSkeleton } from "./generate.ts";

export interface SkeletonFileOptions {
  /** Output `.ts` (or with `js`, the `.js`; the `.d.ts` goes beside it). Default `<dir>/<name>.skel.ts`. */
  output?: string | undefined;
  name?: string | undefined;
  /** false: `--path` (the skeleton reads the object at open()). */
  embed?: boolean | undefined;
  records?: Record<string, string> | undefined;
  js?: boolean | undefined;
}

export interface SkeletonFileResult {
  /** Files written (or, with check, compared). */
  files: string[];
  records: GeneratedSkeleton["records"];
  /** check: which files differ from what would be generated (or are missing). */
  stale: string[];
}

function outputsFor(object: string, name: string, o: SkeletonFileOptions): { main: string; dts?: string } {
  const ext = o.js ? ".js" : ".ts";
  const main = resolve(o.output ?? `${dirname(object)}/${name}.skel${ext}`);
  if (!o.js) return { main };
  return { main, dts: main.replace(/\.m?js$/, "") + ".d.ts" };
}

function generateFor(
  object: string,
  o: SkeletonFileOptions,
): { gen: GeneratedSkeleton; main: string; dts?: string } {
  if (!existsSync(object))
    throw new UsageError(`object '${object}' does not exist`, {
      hint: "build it first: kfunc build <prog.bpf.c>",
    });
  const bytes = new Uint8Array(readFileSync(object));
  const name =
    o.name ??
    (basename(object)
      .replace(/\.bpf\.o$|\.o$/, "")
      .replace(/[^\w]/g, "_") ||
      "skeleton");
  const out = outputsFor(object, name, o);
  let rel = relative(dirname(out.main), resolve(object));
  if (!rel.startsWith(".")) rel = `./${rel}`;
  const opts: Partial<GenerateSkeletonOptions> = {
    name,
    embed: o.embed ?? true,
    objectPath: rel,
    records: o.records ?? {},
    js: o.js ?? false,
  };
  return { gen: generateSkeleton(bytes, object, opts), ...out };
}

/** Generates and writes the skeleton of `object`. */
export function writeSkeleton(object: string, o: SkeletonFileOptions = {}): SkeletonFileResult {
  const { gen, main, dts } = generateFor(object, o);
  try {
    if (dts) {
      writeFileSync(main, gen.js!);
      writeFileSync(dts, gen.ts);
    } else writeFileSync(main, gen.ts);
  } catch (e) {
    throw new UsageError(`cannot write the skeleton ${main}: ${(e as Error).message}`, {
      cause: e,
      hint: "check that the directory exists and is writable, or pass -o <file>",
    });
  }
  return { files: dts ? [main, dts] : [main], records: gen.records, stale: [] };
}

/** Compares the files `writeSkeleton` would write with the ones on disk; lists the stale ones. */
export function checkSkeleton(object: string, o: SkeletonFileOptions = {}): SkeletonFileResult {
  const { gen, main, dts } = generateFor(object, o);
  const want: Array<[string, string]> = dts
    ? [
        [main, gen.js!],
        [dts, gen.ts],
      ]
    : [[main, gen.ts]];
  const stale = want
    .filter(([f, text]) => !existsSync(f) || readFileSync(f, "utf8") !== text)
    .map(([f]) => f);
  return { files: want.map(([f]) => f), records: gen.records, stale };
}
