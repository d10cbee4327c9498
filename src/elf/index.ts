export * from "./elf.ts";
