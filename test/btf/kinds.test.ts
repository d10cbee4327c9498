import assert from "node:assert/strict";
import { test } from "node:test";
import * as flat from "../../src/btf/c-flat.ts";
import { KIND_NAMES, kindNumber } from "../../src/btf/kinds.ts";
import { BTF_KIND } from "../../src/btf/types.ts";

// One kind table (BTF_KIND): the name list and the flat view's K_* names are derived from it.
test("KIND_NAMES and the flat view's K_* constants agree with BTF_KIND", () => {
  assert.equal(KIND_NAMES.length, BTF_KIND.ENUM64 + 1);
  assert.equal(KIND_NAMES[0], "VOID");
  for (const [name, n] of Object.entries(BTF_KIND)) {
    if (n === 0) continue;
    assert.equal(KIND_NAMES[n], name);
    assert.equal(kindNumber(name as (typeof KIND_NAMES)[number]), n);
    assert.equal((flat as unknown as Record<string, number>)[`K_${name}`], n, `K_${name}`);
  }
  // spot-check against include/uapi/linux/btf.h, independently of the table
  assert.deepEqual([flat.K_INT, flat.K_STRUCT, flat.K_FUNC_PROTO, flat.K_ENUM64], [1, 4, 13, 19]);
});
