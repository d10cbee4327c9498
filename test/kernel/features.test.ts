/**
 * The feature probes (src/kernel/features.ts) on this host, through the src/sys wrappers and the BTF
 * writer: each feature is reported supported, or the test fails when the kernel is new enough to have it
 * (requireFeature), so a probe that encodes its object wrongly cannot hide as "unsupported".
 */
import { test } from "node:test";
import type { Feature } from "../../src/kernel/features.ts";
import { requireFeature } from "../helpers/index.ts";

const FEATURES: Feature[] = [
  "btf",
  "btfFunc",
  "btfFuncGlobal",
  "btfDatasec",
  "btfFloat",
  "btfDeclTag",
  "btfTypeTag",
  "btfEnum64",
  "mmapableArray",
  "kfuncCall",
];

for (const f of FEATURES)
  test(`probe ${f}: supported, or the kernel is older than its minimum`, (t) => void requireFeature(t, f));
