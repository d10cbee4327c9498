export * from "./elf.ts";
export * from "./notes.ts";
export * from "./segments.ts";
