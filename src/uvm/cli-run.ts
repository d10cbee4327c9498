import { UsageError } from "../errors.ts";

export interface ObjectRunOptions {
  program?: string | undefined;
  kfuncs?: string | undefined;
  ctxIn?: string | undefined;
  dataIn?: string | undefined;
  btf?: string | undefined;
  repeat: number;
  budget: number | undefined;
  engine: "jit" | "interp";
  json?: boolean | undefined;
}

export async function runObjectCommand(file: string, _opts: ObjectRunOptions): Promise<void> {
  throw new UsageError(`${file}: running objects is not implemented yet`);
}
