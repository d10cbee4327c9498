import type { Code } from "./code.ts";
import type { Engine, Env } from "./engine.ts";
import { Interpreter } from "./interp.ts";

/** Placeholder until the JIT lands: the interpreter. */
export function compile(code: Code, env: Env): Engine {
  return new Interpreter(code, env);
}
