// The engine's limits as settings: the package.json schema and the code agree on the
// defaults, least and largest values; a setting below the least value (0 included: it
// is not "unlimited") is read as the least value, one past the largest as the largest.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DEFAULT_MAX_STATES,
  DEFAULT_MEMORY_BUDGET_MB,
  limitSetting,
  MAX_MAX_STATES,
  MAX_MEMORY_BUDGET_MB,
  MIN_MAX_STATES,
  MIN_MEMORY_BUDGET_MB,
} from '../../extension/protocol/limits';

// Tests run from out/test/unit; package.json stays in the tree.
const ROOT = join(__dirname, '..', '..', '..');

test('package.json declares the limits the code enforces', () => {
  const properties = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).contributes.configuration.properties;
  assert.equal(properties['phasic.engine.maxStates'].default, DEFAULT_MAX_STATES);
  assert.equal(properties['phasic.engine.maxStates'].minimum, MIN_MAX_STATES);
  assert.equal(properties['phasic.engine.memoryBudgetMB'].default, DEFAULT_MEMORY_BUDGET_MB);
  assert.equal(properties['phasic.engine.memoryBudgetMB'].minimum, MIN_MEMORY_BUDGET_MB);
  assert.equal(properties['phasic.engine.maxStates'].maximum, MAX_MAX_STATES);
  assert.equal(properties['phasic.engine.memoryBudgetMB'].maximum, MAX_MEMORY_BUDGET_MB);
});

test('a limit below its least value is the least value, never unlimited', () => {
  for (const value of [0, -1, -1e300, 0.5, 15.9]) assert.equal(limitSetting(value, 16, 1e6, 4096), 16, String(value));
  assert.equal(limitSetting(16, 16, 1e6, 4096), 16);
  assert.equal(limitSetting(100.7, 16, 1e6, 4096), 100);
  for (const value of [undefined, null, '0', 'unlimited', Number.NaN, Number.POSITIVE_INFINITY, {}])
    assert.equal(limitSetting(value, 16, 1e6, 4096), 4096, String(value));
});

test('a limit past its largest value is the largest value, never refused by the engine', () => {
  for (const value of [1e6 + 1, 1e20, Number.MAX_VALUE])
    assert.equal(limitSetting(value, 16, 1e6, 4096), 1e6, String(value));
  // The largest memory budget, in bytes, is still a count the addon takes.
  assert.ok(MAX_MEMORY_BUDGET_MB * 2 ** 20 <= 9e15);
});
