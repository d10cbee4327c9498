export * from "./fixtures.ts";
export * from "./require.ts";
