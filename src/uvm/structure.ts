/**
 * The shape of a function's control-flow graph that the Wasm JIT needs to emit structured control flow
 * (`block`/`loop`/`br` instead of a dispatch loop over block numbers): reverse postorder, the dominator
 * tree, which blocks are loop headers and which are merge points. This is the input of Ramsey's
 * translation ("Beyond Relooper", ICFP 2022), which works on reducible graphs; an irreducible graph (a loop
 * with two entries) gets no shape and the JIT falls back to its dispatch loop.
 */
export interface Shape {
  /** Blocks in reverse postorder from the entry (block 0); unreachable blocks are absent. */
  readonly order: readonly number[];
  /** Reverse-postorder number per block (-1: unreachable). */
  readonly rpo: Int32Array;
  /** Children of each block in the dominator tree. */
  readonly children: readonly (readonly number[])[];
  /** A block with two or more forward in-edges (counted with multiplicity). */
  readonly merge: readonly boolean[];
  /** A block that is the target of a back edge. */
  readonly loopHeader: readonly boolean[];
}

/** `succs[b]`: the successors of block b (block 0 is the entry). Undefined when the graph is irreducible. */
export function shapeOf(succs: readonly (readonly number[])[]): Shape | undefined {
  const n = succs.length;
  const rpo = new Int32Array(n).fill(-1);
  const post: number[] = [];
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
  const stack: [number, number][] = [[0, 0]];
  state[0] = 1;
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [b, i] = top;
    const s = succs[b]!;
    if (i < s.length) {
      top[1] = i + 1;
      const t = s[i]!;
      if (state[t] === 0) {
        state[t] = 1;
        stack.push([t, 0]);
      }
    } else {
      state[b] = 2;
      post.push(b);
      stack.pop();
    }
  }
  const order = post.reverse();
  order.forEach((b, i) => {
    rpo[b] = i;
  });
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (const b of order) for (const t of succs[b]!) preds[t]!.push(b);
  // Cooper, Harvey, Kennedy: "A Simple, Fast Dominance Algorithm"
  const idom = new Int32Array(n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (rpo[a]! > rpo[b]!) a = idom[a]!;
      while (rpo[b]! > rpo[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const b of order) {
      if (b === 0) continue;
      let d = -1;
      for (const p of preds[b]!) if (idom[p] !== -1) d = d === -1 ? p : intersect(p, d);
      if (d !== idom[b]) {
        idom[b] = d;
        changed = true;
      }
    }
  }
  const dominates = (a: number, b: number): boolean => {
    for (;;) {
      if (a === b) return true;
      if (b === 0) return false;
      b = idom[b]!;
    }
  };
  const merge = new Array<boolean>(n).fill(false);
  const loopHeader = new Array<boolean>(n).fill(false);
  const forwardIn = new Int32Array(n);
  for (const b of order)
    for (const t of succs[b]!) {
      if (rpo[t]! > rpo[b]!) forwardIn[t]!++;
      else {
        if (!dominates(t, b)) return undefined; // a retreating edge that is no back edge: irreducible
        loopHeader[t] = true;
      }
    }
  for (const b of order) merge[b] = forwardIn[b]! >= 2;
  const children: number[][] = Array.from({ length: n }, () => []);
  for (const b of order) if (b !== 0) children[idom[b]!]!.push(b);
  return { order, rpo, children, merge, loopHeader };
}
