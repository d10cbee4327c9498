/**
 * The entry of the CLI's CommonJS bundle (dist/cli/bundle/kfunc.cjs, built by `npm run build`), which the
 * loader src/cli/bundle-loader.ts writes runs through a V8 code cache: the shell, and what the loader calls
 * to keep a new cache at exit and to import a user's modules (uvm).
 */
export { keepCodeCache } from "../host/code-cache.ts";
export { setModuleImporter } from "../uvm/host.ts";
export { main } from "./cli.ts";
