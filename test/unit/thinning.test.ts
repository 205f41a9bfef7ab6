// Min/max thinning (extension/protocol/thinning.ts), the one rule the host's buffer and
// the page's store bound their samples with: checked against a reference written here
// from the rule's statement, and for the properties the timeline relies on.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupSizeAt, keepMinMax, thinIndices } from '../../extension/protocol/thinning';
import { random } from '../random';

/** The rule as stated: per group, the first lowest and first highest, in order, once if the same; ≤ 2 kept whole. */
function reference(values: number[], size: number): number[] {
  const out: number[] = [];
  for (let start = 0; start < values.length; start += size) {
    const group = values.slice(start, start + size);
    if (group.length <= 2) {
      group.forEach((_, j) => out.push(start + j));
      continue;
    }
    const lo = start + group.indexOf(Math.min(...group));
    const hi = start + group.indexOf(Math.max(...group));
    out.push(...new Set([lo, hi].sort((a, b) => a - b)));
  }
  return out;
}

test('a hand-worked record: the lowest and highest of each four, in time order', () => {
  const values = [5, 9, 1, 5, 7, 7, 7, 7, 3];
  // [5 9 1 5] → 9 at 1, 1 at 2; [7 7 7 7] → one sample, the first; [3] → kept.
  assert.deepEqual(
    thinIndices(values.length, (i) => values[i]),
    [1, 2, 4, 8],
  );
  // A last group of two is kept whole, even when equal: the newest sample survives.
  assert.deepEqual(
    thinIndices(6, (i) => [1, 2, 3, 4, 6, 6][i]),
    [0, 3, 4, 5],
  );
  assert.deepEqual(
    thinIndices(0, () => 0),
    [],
  );
});

test('random records match the reference, keep every extreme and at most half (plus a short tail)', () => {
  const next = random(12);
  for (let round = 0; round < 200; round++) {
    const length = Math.floor(next() * 300);
    const size = [4, 8, 16][round % 3];
    // Few distinct values, so ties are common.
    const values = Array.from({ length }, () => Math.floor(next() * 6));
    const kept = thinIndices(length, (i) => values[i], size);
    assert.deepEqual(kept, reference(values, size), `round ${round}`);
    assert.ok(
      kept.every((k, i) => i === 0 || k > kept[i - 1]),
      'in order, no repeats',
    );
    if (length) {
      const keptValues = kept.map((k) => values[k]);
      assert.equal(Math.max(...keptValues), Math.max(...values), 'the peak survives');
      assert.equal(Math.min(...keptValues), Math.min(...values), 'the trough survives');
    }
    assert.ok(kept.length <= 2 * Math.ceil(length / size), `${kept.length} of ${length}`);
  }
});

test('one group appended to what is kept; new samples group twice as wide per halving', () => {
  const keep = [99];
  keepMinMax(10, 15, (i) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 8, 8, 0, 2][i], keep);
  assert.deepEqual(keep, [99, 11, 13]);
  assert.deepEqual([0, 1, 2, 3].map(groupSizeAt), [2, 4, 8, 16]);
});
