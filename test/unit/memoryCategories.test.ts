// The memory categories are summed in one place (protocol/memory.ts): every category
// the engine reports counts towards the total, in the host, the webview and the
// tests alike, so a sixth category cannot be left out of one view's total. The
// engine's names come from a real addon call, not from the list under test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../extension/engine/engine';
import { type CategoryBytes, MEMORY_CATEGORIES, totalBytes } from '../../extension/protocol/memory';

test('the categories are exactly the ones the engine reports', () => {
  const engine = new Engine();
  assert.deepEqual(Object.keys(engine.memory().accountedBytes).sort(), [...MEMORY_CATEGORIES].sort());
});

test('the total counts every category once', () => {
  for (const [i, c] of MEMORY_CATEGORIES.entries()) {
    const bytes = Object.fromEntries(MEMORY_CATEGORIES.map((x) => [x, 0])) as CategoryBytes;
    bytes[c] = 2 ** (i + 3);
    assert.equal(totalBytes(bytes), 2 ** (i + 3), c);
  }
  const all = Object.fromEntries(MEMORY_CATEGORIES.map((x, i) => [x, 10 ** i])) as CategoryBytes;
  assert.equal(totalBytes(all), Number('1'.repeat(MEMORY_CATEGORIES.length)));
});
