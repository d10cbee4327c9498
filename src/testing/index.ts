export {
  AnnotationError,
  parseTestCase,
  parseTestCases,
  type RunExpectation,
  type TestCase,
} from "./annotations.ts";
export { compilePattern, matchInOrder, type Pattern } from "./match.ts";
export { failureDetail, junit, matrix, specLine, summaryLine, tap } from "./report.ts";
export { type RunTestsOptions, runTests, type TestEvent } from "./run.ts";
export type * from "./types.ts";
