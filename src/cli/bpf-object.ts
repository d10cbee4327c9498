/** The eBPF object a loading verb (run, test-run) was given, read once, with a CLI fix for a kernel module. */
import { UsageError } from "../errors.ts";
import { readInputFile } from "../files.ts";

const EM_BPF = 247;

/** Bytes of an eBPF object; a kernel module (.ko) is refused naming the verbs that take one. */
export async function readBpfObject(path: string, verb: string): Promise<Uint8Array> {
  const bytes = readInputFile(path, "object");
  const isElf = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  if (!isElf || bytes.length < 20) return bytes;
  const le = bytes[5] !== 2;
  const machine = le ? bytes[18]! | (bytes[19]! << 8) : (bytes[18]! << 8) | bytes[19]!;
  if (machine === EM_BPF) return bytes;
  const { parseElf } = await import("../elf/index.ts");
  let isModule = false;
  try {
    isModule = parseElf(bytes, path).section(".modinfo") !== undefined;
  } catch {
    return bytes; // the object parser says what is wrong with it
  }
  if (isModule)
    throw new UsageError(`${path}: a kernel module, not an eBPF object: kfunc ${verb} loads eBPF programs`, {
      hint: `load the module in a VM (kfunc vm run --insmod ${path} -- …), or look inside it (kfunc inspect ${path})`,
    });
  return bytes;
}
