// Min/max thinning of a time series, the one rule the host's buffer
// (host/panel/buffer.ts) and the page's store (webview/store.ts) both bound their
// memory samples with. Each group of consecutive samples is reduced to the sample
// with the lowest and the one with the highest value, in time order, so no peak or
// trough is ever lost, only the samples between them.
//
// Uniform resolution at any age: when a record fills up, all of it is halved (groups
// of four become two) and the thinning level rises; from then on new samples are
// grouped `groupSizeAt(level)` at a time and enter as their min and max, at the same
// density as the thinned past. (Halving only the old part would leave the past
// exponentially coarser than the present.)
//
// Pure: the webview bundle imports it (no Node, vscode or DOM).

/** Samples per group when a full record is halved. */
export const HALVING_GROUP = 4;

/** After `level` halvings, new samples are reduced in groups of this many. */
export function groupSizeAt(level: number): number {
  return 2 ** (level + 1);
}

/**
 * Appends to `keep` the indices of [from, to) that survive: a group of at most two is
 * kept whole; otherwise the first lowest and first highest by `value`, in index
 * order, and only one index when they are the same sample.
 */
export function keepMinMax(from: number, to: number, value: (i: number) => number, keep: number[]): void {
  if (to - from <= 2) {
    for (let i = from; i < to; i++) keep.push(i);
    return;
  }
  let lo = from;
  let hi = from;
  let loValue = value(from);
  let hiValue = loValue;
  for (let i = from + 1; i < to; i++) {
    const x = value(i);
    if (x < loValue) {
      lo = i;
      loValue = x;
    }
    if (x > hiValue) {
      hi = i;
      hiValue = x;
    }
  }
  keep.push(Math.min(lo, hi));
  if (lo !== hi) keep.push(Math.max(lo, hi));
}

/** The indices of a record of `length` samples that survive min/max thinning in groups of `size`, in order. */
export function thinIndices(length: number, value: (i: number) => number, size = HALVING_GROUP): number[] {
  const keep: number[] = [];
  for (let i = 0; i < length; i += size) keepMinMax(i, Math.min(i + size, length), value, keep);
  return keep;
}
