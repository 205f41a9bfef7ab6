// Shared by the engine tests: paths, the fixture models and the invariant every test
// checks after every engine call (the caches are the only owners of memory).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Engine, EngineFailure } from '../../extension/engine/engine';
import { onlyCachesHold } from '../memory';

// Tests run from out/test/engine; fixtures and the CLI stay where the repo has them.
export const ROOT = join(__dirname, '..', '..', '..');
export const ENGINE_FIXTURES = join(ROOT, 'test', 'fixtures', 'engine');
export const MODEL_FIXTURES = join(ROOT, 'test', 'fixtures', 'models');
export const CLI = join(ROOT, 'dist', 'cli.js');

export const TWO_DEME_SFS = join(ROOT, 'examples', 'two_deme_sfs.phasic');
export const TWO_DEME_DATA = join(ROOT, 'examples', 'two_deme_sfs.fs');

/**
 * The arguments of `phasic-trace fit` (after the word fit) that fit the two-deme
 * example's mig to its spectrum, then `extra`; a `--data FILE` in `extra` stands for
 * the example's spectrum (the CLI refuses an option given twice).
 */
export function twoDemeFitArgs(...extra: string[]): string[] {
  const data = extra.includes('--data') ? [] : ['--data', TWO_DEME_DATA];
  return [TWO_DEME_SFS, ...data, '--sfs-reward', 'xi', '--fit', 'mig', ...extra];
}

export function compiledModel(name: string): string {
  return readFileSync(join(ENGINE_FIXTURES, `${name}.json`), 'utf8');
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `phasic-${prefix}-`));
}

/** Subgraph and evaluation memory is 0; graph + traces + cache is what the cache holds. */
export function assertOnlyCachesHoldMemory(engine: Engine): void {
  assert.equal(onlyCachesHold(engine.memory()), undefined);
}

/** `actual` may be a moment in its JSON form ("Infinity", "NaN"): Number reads it. */
export function assertClose(moment: number | string, expected: number, rel: number, what: string): void {
  const actual = Number(moment);
  const scale = Math.max(Math.abs(actual), Math.abs(expected));
  assert.ok(
    actual === expected || Math.abs(actual - expected) <= rel * scale,
    `${what}: ${actual} differs from ${expected} by more than ${rel} relative`,
  );
}

/** The EngineFailure `promise` rejects with; fails the test if it resolves or rejects with anything else. */
export async function engineFailure(promise: Promise<unknown>): Promise<EngineFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EngineFailure, `an EngineFailure, got ${error}`);
    return error;
  }
  assert.fail('expected the call to fail');
}
