import type { Command } from "commander";
import { UsageError } from "../../errors.ts";

interface GenSkeletonOpts {
  output?: string;
  name?: string;
  embed?: boolean;
  path?: boolean;
  record?: string[];
  check?: boolean;
  js?: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `--record MAP=STRUCT` values as a map → type table. */
export function parseRecordOptions(values: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    if (i <= 0 || i === v.length - 1)
      throw new UsageError(`--record '${v}': expected MAP=STRUCT`, { hint: "e.g. --record events=event" });
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

export function register(program: Command): void {
  const gen = program.command("gen").description("generate code from an eBPF object");
  gen
    .command("skeleton")
    .description(
      "a typed TypeScript skeleton of an object: open() → typed globals, load() → typed programs/maps/globals, attach(), close() (docs/skeleton.md)",
    )
    .argument("<object>", "the eBPF object (prog.bpf.o)")
    .option("-o, --output <file>", "the file to write (default: <name>.skel.ts next to the object)")
    .option("--name <name>", "the skeleton's name (default: the object's name without .bpf.o)")
    .option("--embed", "embed the object in the skeleton as base64 (the default)")
    .option("--path", "read the object at open() from its path relative to the skeleton (checks its sha256)")
    .option("--record <map=struct>", "the record type of a ring/perf buffer map; repeatable", collect)
    .option(
      "--check",
      "write nothing: exit 1 when the existing skeleton differs from what would be generated",
    )
    .option("--js", "write a .js + .d.ts pair instead of one .ts")
    .option("--json", "print the result as JSON")
    .action(async (object: string, opts: GenSkeletonOpts) => {
      if (opts.embed && opts.path) throw new UsageError("--embed and --path exclude each other");
      const { checkSkeleton, writeSkeleton } = await import("../../skeleton/files.ts");
      const o = {
        output: opts.output,
        name: opts.name,
        embed: !opts.path,
        records: parseRecordOptions(opts.record),
        js: opts.js === true,
      };
      const r = opts.check ? checkSkeleton(object, o) : writeSkeleton(object, o);
      if (opts.json) {
        const { printJson } = await import("../json.ts");
        printJson({ ...r, ok: r.stale.length === 0 });
      } else if (opts.check) {
        for (const f of r.stale) process.stderr.write(`kfunc: ${f} is out of date with ${object}\n`);
        if (r.stale.length)
          process.stderr.write(
            `  hint: regenerate it: kfunc gen skeleton ${object}${opts.output ? ` -o ${opts.output}` : ""}${opts.path ? " --path" : ""}\n`,
          );
      } else process.stdout.write(`${r.files.join("\n")}\n`);
      if (r.stale.length) process.exitCode = 1;
    });
}
