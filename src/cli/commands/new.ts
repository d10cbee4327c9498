/** `kfunc new <dir>`: scaffold a kfunc module with tests that pass (`kfunc test <dir>`). */
import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("new")
    .description("create a kfunc module to start from: kfunc.json, two kfuncs, passing tests, a README")
    .argument("<dir>", "the new module's directory")
    .option("--name <name>", "module name (default: from the directory name)")
    .option("--force", "write into a directory that is not empty")
    .action(async (dir: string, opts: { name?: string; force?: boolean }) => {
      const { scaffold } = await import("../../testing/scaffold.ts");
      const r = scaffold(dir, opts);
      process.stdout.write(
        `created ${r.name} in ${r.dir}:\n${r.files.map((f) => `  ${f}`).join("\n")}\nnext: kfunc test ${dir}\n`,
      );
    });
}
