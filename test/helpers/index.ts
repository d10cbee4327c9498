export * from "./fixtures.ts";
export * from "./require.ts";
export * from "./temp.ts";
