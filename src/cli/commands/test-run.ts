/** `kfunc test-run <obj.o> --program NAME`: BPF_PROG_TEST_RUN one program and print retval and duration. */
import { existsSync } from "node:fs";
import type { Command } from "commander";

interface TestRunCliOptions {
  program?: string;
  dataIn?: string;
  ctxIn?: string;
  repeat?: string;
  json?: boolean;
  pinRoot?: string;
}

export function register(program: Command): void {
  program
    .command("test-run")
    .description(
      "run one program with BPF_PROG_TEST_RUN (xdp, tc, socket, syscall, raw_tp) and print its result",
    )
    .argument("<obj>", "eBPF object (clang -target bpf -g)")
    .requiredOption("-p, --program <name>", "the program to run")
    .option("--data-in <file>", "packet data (xdp, tc, socket filters: at least an Ethernet header)")
    .option("--ctx-in <file>", "context bytes (syscall: the program's argument struct; raw_tp: u64 args)")
    .option("-r, --repeat <n>", "run n times; the duration is the average (not for syscall/raw_tp)")
    .option("--json", "print the result as JSON")
    .option("--pin-root <dir>", "bpffs dir for maps pinned by name (default /sys/fs/bpf)")
    .action(async (obj: string, opts: TestRunCliOptions) => {
      await testRunCommand(obj, opts);
    });
}

async function testRunCommand(obj: string, opts: TestRunCliOptions): Promise<void> {
  const { UsageError } = await import("../../errors.ts");
  const { readInputFile } = await import("../../files.ts");
  const { parseObject } = await import("../../object/index.ts");
  const read = (file: string, what: string): Uint8Array => {
    if (!existsSync(file))
      throw new UsageError(`${what} '${file}' does not exist`, { hint: "check the path" });
    return readInputFile(file, what);
  };
  const { intOption, U32_MAX } = await import("../options.ts");
  const repeat =
    opts.repeat === undefined
      ? undefined
      : intOption("--repeat", opts.repeat, 1, U32_MAX, "the kernel's repeat count is a u32");
  if (!existsSync(obj)) throw new UsageError(`object '${obj}' does not exist`, { hint: "check the path" });
  const { readBpfObject } = await import("../bpf-object.ts");
  const spec = parseObject(await readBpfObject(obj, "test-run"), obj);
  const name = opts.program!;
  const ps = spec.programs.find((p) => p.name === name);
  if (!ps) {
    throw new UsageError(`${obj}: no program named '${name}'`, {
      hint: `programs: ${spec.programs.map((p) => `${p.name} (${p.section})`).join(", ") || "(none)"}`,
    });
  }
  const { loadCollection } = await import("../../kernel/index.ts");
  const { testRun, testRunUnsupported } = await import("../../kernel/test-run.ts");
  const unsupported = testRunUnsupported(ps.type.id, ps.expectedAttachType?.id);
  if (unsupported)
    throw new UsageError(`${obj}: program '${name}' (${ps.section}): ${unsupported}`, {
      hint: `attach it and trigger it instead: kfunc run ${obj} --program ${name}`,
    });
  const dataIn = opts.dataIn ? read(opts.dataIn, "--data-in file") : undefined;
  const ctxIn = opts.ctxIn ? read(opts.ctxIn, "--ctx-in file") : undefined;
  const needed = ctxStructSize(spec, ps.btfFuncId);
  if (ps.type.id === 31 && needed && (ctxIn?.byteLength ?? 0) < needed.size)
    throw new UsageError(
      `${obj}: program '${name}' reads a context of ${needed.name} (${needed.size} bytes); --ctx-in has ${ctxIn ? `${ctxIn.byteLength} bytes` : "none"}`,
      { hint: `pass --ctx-in with a file of ${needed.size} bytes (at most 65535)` },
    );
  const { requireBpfPrivilege } = await import("../privilege.ts");
  requireBpfPrivilege("test-run", { network: [3, 4, 6].includes(ps.type.id) });
  const { checkPinRoot } = await import("../pin-root.ts");
  const pinPath = checkPinRoot(spec, opts.pinRoot);
  // try/finally, not `using`: tsc's downlevel of `using` skips rewriting the dynamic imports' .ts extensions
  const coll = await loadCollection(spec, { programs: [name], pinPath });
  let r: ReturnType<typeof testRun>;
  try {
    r = testRun(coll.program(name), {
      ...(dataIn ? { dataIn } : {}),
      ...(ctxIn ? { ctxIn } : {}),
      ...(repeat !== undefined ? { repeat } : {}),
    });
  } finally {
    coll.close();
  }
  const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString("hex") : undefined);
  if (opts.json) {
    const { printJson } = await import("../json.ts");
    printJson({
      program: name,
      section: ps.section,
      retval: r.retval,
      durationNs: r.durationNs,
      repeat: repeat ?? 1,
      dataOut: hex(r.dataOut),
      ctxOut: hex(r.ctxOut),
    });
    return;
  }
  process.stdout.write(`${name} (${ps.section}): retval ${r.retval}${verdict(ps.section, r.retval)}\n`);
  process.stdout.write(
    `duration: ${r.durationNs} ns${repeat && repeat > 1 ? ` (average of ${repeat} runs)` : ""}\n`,
  );
  if (r.dataOut) process.stdout.write(`data out (${r.dataOut.byteLength} bytes): ${hex(r.dataOut)}\n`);
  if (r.ctxOut) process.stdout.write(`ctx out (${r.ctxOut.byteLength} bytes): ${hex(r.ctxOut)}\n`);
}

/** The struct a program's context pointer points to (its first parameter), from the object's BTF. */
function ctxStructSize(
  spec: import("../../object/index.ts").ObjectSpec,
  funcId: number,
): { name: string; size: number } | undefined {
  const btf = spec.btf;
  if (!btf || !funcId) return undefined;
  try {
    const f = btf.typeById(funcId);
    if (f.kind !== "FUNC") return undefined;
    const proto = btf.typeById(f.type);
    if (proto.kind !== "FUNC_PROTO" || !proto.params[0]) return undefined;
    const ptr = btf.resolve(proto.params[0].type);
    if (ptr.kind !== "PTR") return undefined;
    const target = btf.resolve(ptr.type);
    if (target.kind !== "STRUCT" && target.kind !== "UNION") return undefined;
    return {
      name: `${target.kind === "STRUCT" ? "struct" : "union"} ${target.name || "(anon)"}`,
      size: target.size,
    };
  } catch {
    return undefined;
  }
}

function verdict(section: string, retval: number): string {
  if (section.startsWith("xdp")) {
    const n = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"][retval];
    return n ? ` (${n})` : "";
  }
  if (section === "tc" || section.startsWith("classifier") || section.startsWith("tc/")) {
    const n: Record<number, string> = {
      [-1]: "TC_ACT_UNSPEC",
      0: "TC_ACT_OK",
      2: "TC_ACT_SHOT",
      7: "TC_ACT_REDIRECT",
    };
    return n[retval] ? ` (${n[retval]})` : "";
  }
  return "";
}
