/** kfunc-kit/skeleton: what generated skeletons import (the runtime), and the generator itself. */
export type { RecordView, RecordViewMethods } from "../btf/value-codec.ts";
export type { Program } from "../kernel/program.ts";
export {
  type GeneratedSkeleton,
  type GenerateSkeletonOptions,
  generateSkeleton,
  RECORD_ANCHOR_PREFIX,
} from "./generate.ts";
export {
  embeddedObject,
  KfuncMissingError,
  type LoadedSkeleton,
  type OpenSkeletonOptions,
  openSkeleton,
  readSkeletonObject,
  type SkeletonDescriptor,
  SkeletonLinks,
  SkeletonMap,
  SkeletonPerfBuffer,
  SkeletonRingBuffer,
  type SkeletonSpec,
  TypedRingCursor,
} from "./runtime.ts";
