// Each of the engine's error types reaches JavaScript as its own kind, through the
// real addon: callers tell the model's fault from a limit, a budget, a cancel, a stale
// cache and a bad argument by `kind`, not by the message (native/binding/failure.cpp).
// The engine's own invariant failures ('internal') cannot be caused through the API.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadAddon } from '../../extension/engine/addon';
import { Engine } from '../../extension/engine/engine';
import type { FailureKind } from '../../extension/protocol/requests';
import { assertOnlyCachesHoldMemory, compiledModel, engineFailure, ROOT, tempDir } from './helpers';

const engine = new Engine();
engine.configure({ cacheDir: tempDir('kinds') });

async function kindOf(promise: Promise<unknown>): Promise<{ kind: FailureKind; message: string }> {
  const { kind, message } = await engineFailure(promise);
  return { kind, message };
}

describe('failure kinds through the real addon', () => {
  it("reports a fault of the model file as 'model'", async () => {
    const bad = await kindOf(engine.run('{"format": "phasic-compiled-model"'));
    assert.equal(bad.kind, 'model', bad.message);
    const neither = await kindOf(engine.run('{"something": "else"}'));
    assert.equal(neither.kind, 'model', neither.message);
    assertOnlyCachesHoldMemory(engine);
  });

  it("reports the state limit as 'limit', for an explored model and an imported graph", async () => {
    const explored = await kindOf(engine.run(compiledModel('two_locus'), { maxStates: 50 }));
    assert.equal(explored.kind, 'limit', explored.message);
    assert.match(explored.message, /more than 50 states/);
    const graph = await engine.exportPhasicJson(compiledModel('kingman'));
    const imported = await kindOf(engine.run(graph, { maxStates: 2 }));
    assert.equal(imported.kind, 'limit', imported.message);
    assert.match(imported.message, /more than the limit of 2/);
    assertOnlyCachesHoldMemory(engine);
  });

  it("reports a trace key the cache does not hold as 'cache'", async () => {
    const unknown = await kindOf(engine.evaluate('not-a-trace-key', {}));
    assert.equal(unknown.kind, 'cache', unknown.message);
    const { traceKey } = await engine.run(compiledModel('kingman'));
    await engine.clearCaches();
    const cleared = await kindOf(engine.evaluate(traceKey, {}));
    assert.equal(cleared.kind, 'cache', cleared.message);
    assert.match(cleared.message, /no longer cached/);
  });

  it("reports a caller's bad parameter, reward or option as 'argument'", async () => {
    const kingman = compiledModel('kingman');
    for (const [what, call] of [
      ['a negative parameter', () => engine.run(kingman, { params: { theta: -1 } })],
      ['an unknown parameter', () => engine.run(kingman, { params: { nope: 1 } })],
      ['an unknown reward', () => engine.run(kingman, { covariances: [['time', 'nope']] })],
      ['a minSccSize below 2', () => engine.run(kingman, { minSccSize: 1 })],
      // It used to wrap round to 4 and run as if asked for 4.
      ['a minSccSize past 32 bits', () => engine.run(kingman, { minSccSize: 2 ** 32 + 4 })],
    ] as const) {
      const failure = await kindOf(call());
      assert.equal(failure.kind, 'argument', `${what}: ${failure.message}`);
    }
    const { traceKey } = await engine.run(kingman);
    const evaluated = await kindOf(engine.evaluate(traceKey, { theta: Number.NaN }));
    assert.equal(evaluated.kind, 'argument', evaluated.message);
    assertOnlyCachesHoldMemory(engine);
  });

  it("reports the memory budget as 'budget' and a cancel as 'cancelled'", async () => {
    engine.configure({ memoryBudgetBytes: 100_000 });
    const budget = await kindOf(engine.run(compiledModel('two_locus_n6')));
    engine.configure({ memoryBudgetBytes: 4096 * 1024 * 1024 });
    assert.equal(budget.kind, 'budget', budget.message);
    const abort = new AbortController();
    const cancelled = await kindOf(
      engine.run(compiledModel('two_locus_n6'), { signal: abort.signal, onProgress: () => abort.abort() }),
    );
    assert.equal(cancelled.kind, 'cancelled', cancelled.message);
    assertOnlyCachesHoldMemory(engine);
  });
});

describe('the addon version', () => {
  it("is package.json's version, as the build gave it", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(loadAddon().version(), pkg.version);
    assert.equal(engine.version(), pkg.version);
  });
});
