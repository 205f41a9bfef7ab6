// The engine through the real native addon: caching in memory and on disk, damaged
// cache files, cancellation, limits, memory accounting and re-evaluation.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { findAddon } from '../../extension/engine/addon';
import { Engine } from '../../extension/engine/engine';
import type { BlockEvent, Progress, RunResult } from '../../extension/protocol/engine';
import { compileModel } from '../../extension/language';
import { assertClose, assertOnlyCachesHoldMemory, compiledModel, engineFailure, ROOT, tempDir } from './helpers';

const engine = new Engine();
const cacheDir = tempDir('cache');
const otherDir = tempDir('other');

/** Empties the memory cache but keeps the disk cache of `cacheDir`. */
async function forgetMemory(): Promise<void> {
  engine.configure({ cacheDir: otherDir });
  await engine.clearCaches();
  engine.configure({ cacheDir });
}

function sources(result: RunResult): Record<string, number> {
  const count: Record<string, number> = {};
  for (const scc of result.decomposition.sccs) count[scc.source] = (count[scc.source] ?? 0) + 1;
  return count;
}

/** Removes the runs' own entries (engine/run_entry.hpp), so the next run reads blocks. */
function removeRunEntries(): void {
  for (const f of readdirSync(cacheDir)) if (f.endsWith('.run')) rmSync(join(cacheDir, f));
}

function traceFiles(): string[] {
  return readdirSync(cacheDir)
    .filter((f) => f.endsWith('.trace'))
    .sort();
}

describe('engine', () => {
  before(async () => {
    engine.configure({ cacheDir, maxDiskBytes: 64 * 1024 * 1024, memoryBudgetBytes: 4096 * 1024 * 1024 });
    await engine.clearCaches();
  });

  it('reports its version', () => {
    assert.match(engine.version(), /^\d+\.\d+\.\d+$/);
  });

  it('gives identical moments from a fresh recording, the memory cache and the disk cache', async () => {
    const model = compiledModel('structured_n8_d3');
    const options = { moments: 3, covariances: [['time', 'tmrca']] as Array<[string, string]> };
    const fresh = await engine.run(model, options);
    assertOnlyCachesHoldMemory(engine);
    assert.ok(fresh.sccs.blocks > 0);
    assert.equal(fresh.sccs.recorded + fresh.sccs.cached, fresh.sccs.blocks);
    assert.ok(fresh.sccs.recorded > 0);
    assert.equal(sources(fresh).disk, undefined);
    assert.ok(traceFiles().length > 0, 'recorded blocks were written to disk');

    const memory = await engine.run(model, options);
    assert.equal(memory.reused, true, 'the unchanged model reuses the cached run');
    assert.deepEqual(memory.decomposition.edges, fresh.decomposition.edges);
    assert.equal(memory.sccs.recorded, 0);
    assert.equal(memory.sccs.cached, memory.sccs.blocks);
    assert.equal(sources(memory).recorded, undefined);
    assert.equal(memory.traceKey, fresh.traceKey);

    await forgetMemory();
    const disk = await engine.run(model, options);
    assert.ok(sources(disk).disk > 0);
    assert.equal(disk.sccs.recorded, 0);
    // A memory hit writes the decomposition text stored with the run (decision 55): the
    // fresh run's components, each cached block marked as found in memory with no
    // recording time, whether the run was stored by the fresh run or by the restore.
    const cachedFromFresh = fresh.decomposition.sccs.map((s) =>
      s.source === 'trivial' ? s : { ...s, source: 'memory', recordMs: 0 },
    );
    assert.deepEqual(memory.decomposition.sccs, cachedFromFresh);
    const afterRestore = await engine.run(model, options);
    assert.equal(afterRestore.reused, true);
    assert.deepEqual(sources(afterRestore), sources(memory));
    assert.deepEqual(afterRestore.decomposition, memory.decomposition);

    for (const r of [memory, disk, afterRestore]) {
      assert.deepEqual(r.moments, fresh.moments);
      assert.deepEqual(r.variance, fresh.variance);
      assert.deepEqual(r.covariance, fresh.covariance);
      assert.equal(r.trace.operations, fresh.trace.operations);
    }
    // E[tmrca] = d for two lineages... here n = 8: the value is model-specific, but the
    // time reward and tmrca (both 1) must agree exactly, and the covariance is Var.
    assert.deepEqual(fresh.moments.time, fresh.moments.tmrca);
    assertClose(fresh.covariance['time,tmrca'], Number(fresh.variance.time), 1e-12, 'Cov(time, tmrca) = Var');
    assertOnlyCachesHoldMemory(engine);
  });

  it('runs without the decomposition when asked, with everything else as a full run', async () => {
    await engine.clearCaches();
    const model = compiledModel('structured_n8_d3');
    const full = await engine.run(model, { moments: 2 });
    await engine.clearCaches();
    const summary = await engine.runSummary(model, { moments: 2 });
    assert.equal('decomposition' in summary, false);
    assert.deepEqual(summary.moments, full.moments);
    assert.deepEqual(summary.sccs, full.sccs);
    assert.equal(summary.traceKey, full.traceKey);
    assert.equal(summary.memory.blocks.length, full.memory.blocks.length);
    // The peak resident set is the kernel's high-water mark: never below the final one.
    assert.ok(summary.memory.rssPeakBytes >= summary.memory.rssBytes);
    assert.ok(summary.memory.rssBytes > 0);
    assertOnlyCachesHoldMemory(engine);
  });

  it('detects truncated, corrupted and foreign cache files, removes them and records again', async () => {
    await engine.clearCaches();
    const model = compiledModel('structured_n8_d3');
    const reference = await engine.run(model, { moments: 2 });
    const files = traceFiles();
    assert.ok(files.length >= 3, `at least three cache files (${files.length})`);
    const [truncated, corrupted, foreign] = files;
    const sizes = Object.fromEntries(files.map((f) => [f, statSync(join(cacheDir, f)).size]));
    truncateSync(join(cacheDir, truncated), Math.floor(sizes[truncated] / 2));
    const bytes = readFileSync(join(cacheDir, corrupted));
    bytes[Math.floor(bytes.length / 2)] ^= 0x40;
    writeFileSync(join(cacheDir, corrupted), bytes);
    writeFileSync(join(cacheDir, foreign), '{"not": "a trace"}\n');
    // About block files: without the run's own entry the run composes from them.
    removeRunEntries();

    await forgetMemory();
    const again = await engine.run(model, { moments: 2 });
    const damaged = new Set([truncated, corrupted, foreign].map((f) => f.replace('.trace', '')));
    const recordedKeys = new Set(again.decomposition.sccs.filter((s) => s.source === 'recorded').map((s) => s.key));
    assert.deepEqual([...recordedKeys].sort(), [...damaged].sort(), 'exactly the damaged blocks were recorded again');
    for (const s of again.decomposition.sccs)
      if (s.key && !damaged.has(s.key)) assert.notEqual(s.source, 'recorded', `block ${s.id} came from a cache`);
    assert.deepEqual(again.moments, reference.moments);
    // The damaged files were replaced by sound ones.
    for (const f of [truncated, corrupted, foreign]) assert.equal(statSync(join(cacheDir, f)).size, sizes[f]);
    await forgetMemory();
    const third = await engine.run(model, { moments: 2 });
    assert.equal(third.sccs.recorded, 0);
    assertOnlyCachesHoldMemory(engine);
  });

  it('delivers progress and block events in order, matching the result', async () => {
    await engine.clearCaches();
    const progress: Progress[] = [];
    const events: BlockEvent[] = [];
    const result = await engine.run(compiledModel('two_locus'), {
      onProgress: (p) => progress.push(p),
      onBlockEvent: (e) => events.push(e),
    });
    const phases = [...new Set(progress.map((p) => p.phase))];
    assert.deepEqual(phases, ['exploring', 'decomposing', 'recording', 'composing', 'evaluating']);
    assert.equal(events.length, 2 * result.sccs.blocks);
    assert.equal(result.memory.blocks.length, result.sccs.blocks);
    for (let i = 0; i < result.memory.blocks.length; i++) {
      const [created, freed] = [events[2 * i], events[2 * i + 1]];
      const life = result.memory.blocks[i];
      assert.equal(created.kind, 'created');
      assert.equal(freed.kind, 'freed');
      assert.equal(created.scc, life.scc);
      assert.equal(freed.scc, life.scc);
      assert.equal(created.timeMs, life.createdMs);
      assert.equal(freed.timeMs, life.freedMs);
      assert.ok(life.freedMs >= life.createdMs);
      assert.ok(life.bytes > 0 && life.vertices >= 4);
      if (i > 0) assert.ok(life.createdMs >= result.memory.blocks[i - 1].freedMs, 'one block subgraph at a time');
    }
    // Sink-first: every block is recorded after the blocks it exits into.
    const order = result.memory.blocks.map((b) => b.scc);
    assert.deepEqual(
      order,
      [...order].sort((a, b) => b - a),
    );
  });

  it('frees everything a cancelled run built, in exploration and in recording', async () => {
    const model = compiledModel('two_locus_n6');
    for (const phase of ['exploring', 'recording'] as const) {
      await engine.clearCaches();
      const abort = new AbortController();
      const failure = await engineFailure(
        engine.run(model, {
          signal: abort.signal,
          onProgress: (p) => {
            if (p.phase === phase) abort.abort();
          },
          onBlockEvent: () => abort.abort(),
        }),
      );
      assert.equal(failure.kind, 'cancelled', failure.message);
      assertOnlyCachesHoldMemory(engine);
    }
    // An aborted signal never starts a run.
    const abort = new AbortController();
    abort.abort();
    assert.equal((await engineFailure(engine.run(model, { signal: abort.signal }))).kind, 'cancelled');
  });

  it('settles calls in the order they were made, each run after its events', async () => {
    await engine.clearCaches();
    const model = compiledModel('two_locus');
    const settled: string[] = [];
    const note = <T>(name: string, p: Promise<T>) =>
      p.then((v) => {
        settled.push(name);
        return v;
      });
    let eventsAfterSettling = 0;
    const first = note('run 1', engine.run(model, { onBlockEvent: () => settled.length > 0 && eventsAfterSettling++ }));
    const memory = note('clear', engine.clearCaches());
    const second = note('run 2', engine.run(model, { params: { coal: 2 } }));
    await Promise.all([first, memory, second]);
    assert.deepEqual(settled, ['run 1', 'clear', 'run 2']);
    assert.equal(eventsAfterSettling, 0);
    assertOnlyCachesHoldMemory(engine);
  });

  it('keeps working when a worker thread using the engine ends in the middle of a run', async () => {
    // The engine thread outlives the worker; what it still sends the worker's ended
    // environment is dropped, and the process does not abort.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.addon);
      let blocks = 0;
      addon.run(1, workerData.model, {}, undefined, () => ++blocks === 3 && parentPort.postMessage('running'));`;
    for (let i = 0; i < 3; i++) {
      await engine.clearCaches(); // so that the worker's run explores and records
      const worker = new Worker(code, {
        eval: true,
        workerData: { addon: findAddon(), model: compiledModel('two_locus_n6') },
      });
      await new Promise((resolve, reject) =>
        worker
          .once('message', resolve)
          .once('error', reject)
          .once('exit', () => reject(new Error('the worker ended before its run was under way'))),
      );
      await worker.terminate();
    }
    await engine.clearCaches();
    assert.equal((await engine.run(compiledModel('two_locus'))).reused, false);
    assertOnlyCachesHoldMemory(engine);
  });

  it('stops at the state limit with an error naming the limit', async () => {
    const failure = await engineFailure(engine.run(compiledModel('two_locus'), { maxStates: 50 }));
    assert.equal(failure.kind, 'limit');
    assert.match(failure.message, /more than 50 states/);
    assertOnlyCachesHoldMemory(engine);
  });

  it('has no unlimited state limit or memory budget: 0 and fractions are refused', async () => {
    for (const bad of [0, -1, 0.5, Number.NaN]) {
      assert.throws(() => engine.configure({ memoryBudgetBytes: bad }), /memoryBudgetBytes must be an integer ≥ 1/);
      await assert.rejects(
        engine.run(compiledModel('kingman'), { maxStates: bad }),
        /maxStates must be an integer ≥ 1/,
      );
      await assert.rejects(engine.exportPhasicJson(compiledModel('kingman'), bad), /maxStates must be an integer ≥ 1/);
    }
    const result = await engine.run(compiledModel('kingman'), { moments: 1 });
    assert.ok(Number(result.moments.tmrca[0]) > 0, 'the engine is still configured with its budget');
  });

  it('stops at the memory budget, releases the run and stays usable', async () => {
    await engine.clearCaches();
    engine.configure({ cacheDir, memoryBudgetBytes: 100_000 });
    const failure = await engineFailure(engine.run(compiledModel('two_locus_n6')));
    assert.equal(failure.kind, 'budget');
    assert.match(failure.message, /memory budget/);
    assertOnlyCachesHoldMemory(engine);
    engine.configure({ cacheDir, memoryBudgetBytes: 4096 * 1024 * 1024 });
    const result = await engine.run(compiledModel('kingman'), { moments: 3 });
    assertClose(result.moments.tmrca[1], 3.388888888888889, 1e-12, 'kingman E[T^2] after the budget error');
    assertOnlyCachesHoldMemory(engine);
  });

  it('rejects unknown parameter and reward names', async () => {
    const param = await engineFailure(engine.run(compiledModel('kingman'), { params: { thetta: 1 } }));
    assert.match(param.message, /unknown parameter 'thetta'.*theta/);
    const reward = await engineFailure(engine.run(compiledModel('kingman'), { covariances: [['tmrca', 'length']] }));
    assert.match(reward.message, /unknown reward 'length'/);
    assertOnlyCachesHoldMemory(engine);
  });

  it('re-evaluates a cached trace at new parameters like a fresh run, until the cache is cleared', async () => {
    const model = compiledModel('two_locus');
    const base = await engine.run(model, { moments: 2 });
    const at = { coal: 2, rec: 0.25 };
    const fresh = await engine.run(model, { moments: 2, params: at });
    assert.equal(fresh.traceKey, base.traceKey);
    const evaluated = await engine.evaluate(base.traceKey, at, 2);
    assert.deepEqual(evaluated.params, at);
    for (const reward of Object.keys(fresh.moments))
      fresh.moments[reward].forEach((m, k) =>
        assertClose(evaluated.moments[reward][k], Number(m), 1e-12, `${reward} moment ${k + 1}`),
      );
    assert.notDeepEqual(evaluated.moments, base.moments);

    const grid = Array.from({ length: 11 }, (_, i) => ({ coal: 1, rec: i / 4 }));
    const many = await engine.evaluateMany(base.traceKey, grid, 2, [['time', 'tmrca']]);
    assert.equal(many.length, grid.length);
    for (let i = 0; i < grid.length; i++) {
      const one = await engine.evaluate(base.traceKey, grid[i], 2, [['time', 'tmrca']]);
      assert.deepEqual(many[i].moments, one.moments);
      assert.deepEqual(many[i].covariance, one.covariance);
    }
    assertOnlyCachesHoldMemory(engine);

    await engine.clearCaches();
    const gone = await engineFailure(engine.evaluate(base.traceKey, at));
    assert.equal(gone.message, 'trace no longer cached; run again');
  });

  it('keeps large scratch between calls as workspace on the ledger, and Clear Caches frees it', async () => {
    // Rabbits with N = 300 (45,752 states): its gradient's workspace is above the 1 MB
    // from which scratch is kept.
    const source = readFileSync(join(ROOT, 'examples', 'rabbits.phasic'), 'utf8').replace(
      'const N = 20',
      'const N = 300',
    );
    const { model, diagnostics } = compileModel(source, 'rabbits.phasic');
    assert.ok(model, diagnostics.map((d) => d.message).join('\n'));
    const text = JSON.stringify(model);
    // A run that explores gives back kept scratch when it ends.
    const run = await engine.run(text);
    assert.equal(engine.memory().accountedBytes.workspace, 0);
    // The gradient's workspace (≥ 1 MB on this model) outlives the evaluation: kept,
    // counted under its own name and nowhere else.
    await engine.evaluate(run.traceKey, {}, 2, [], true);
    const kept = engine.memory();
    assert.ok(kept.accountedBytes.workspace >= 2 ** 20, `workspace ${kept.accountedBytes.workspace}`);
    assert.equal(kept.accountedBytes.workspace % 2 ** 21, 0, 'whole 2 MB pages');
    assertOnlyCachesHoldMemory(engine);
    // The next evaluation takes it (on the ledger as evaluation while it runs) and keeps it again.
    await engine.evaluate(run.traceKey, {}, 2, [], true);
    assert.equal(engine.memory().accountedBytes.workspace, kept.accountedBytes.workspace);
    // A reused run keeps it too; it explores nothing.
    assert.equal((await engine.run(text, { gradient: true })).reused, true);
    assert.equal(engine.memory().accountedBytes.workspace, kept.accountedBytes.workspace);
    const cleared = await engine.clearCaches();
    assert.equal(cleared.freedBytes.workspace, kept.accountedBytes.workspace);
    assert.equal(engine.memory().accountedBytes.workspace, 0);
  });

  it('clears exactly what the caches held and returns to the baseline', async () => {
    await engine.run(compiledModel('rabbits'));
    await engine.run(compiledModel('structured_n8_d3'));
    const held = engine.memory();
    assert.ok(held.cache.entries > 0 && held.cache.bytes > 0 && held.cache.diskFiles > 0);
    const cleared = await engine.clearCaches();
    assert.equal(cleared.freedBytes.traces, held.accountedBytes.traces);
    assert.equal(cleared.freedBytes.cache, held.accountedBytes.cache);
    // Graph bytes are the parametric graphs kept beside the model traces (for distributions).
    assert.equal(cleared.freedBytes.graph, held.accountedBytes.graph);
    assert.ok(held.accountedBytes.graph > 0);
    assert.equal(cleared.freedBytes.subgraphs + cleared.freedBytes.evaluation, 0);
    assert.equal(cleared.traces, held.cache.entries);
    assert.equal(cleared.subgraphs, 0);
    assert.equal(cleared.disk.files, held.cache.diskFiles);
    assert.equal(cleared.disk.bytes, held.cache.diskBytes);
    assert.ok(cleared.rssBefore > 0 && cleared.rssAfter > 0);
    const after = engine.memory();
    for (const [category, bytes] of Object.entries(after.accountedBytes))
      assert.equal(bytes, 0, `${category} after clear`);
    assert.deepEqual(after.cache, { entries: 0, bytes: 0, diskFiles: 0, diskBytes: 0 });
    assert.deepEqual(traceFiles(), []);
  });

  it('evicts least recently used traces beyond memoryCacheBytes, never the latest run', async () => {
    await engine.clearCaches();
    engine.configure({ cacheDir, memoryCacheBytes: 1 });
    const first = await engine.run(compiledModel('rabbits'));
    const latest = await engine.run(compiledModel('two_locus'));
    assertOnlyCachesHoldMemory(engine);
    const held = engine.memory().cache;
    assert.ok(held.bytes > 0);
    const again = await engine.evaluate(latest.traceKey, {});
    assert.deepEqual(again.moments, latest.moments);
    assert.equal(
      (await engineFailure(engine.evaluate(first.traceKey, {}))).message,
      'trace no longer cached; run again',
    );
    // The evicted blocks are still on disk: running the first model again records nothing.
    const back = await engine.run(compiledModel('rabbits'));
    assert.equal(back.sccs.recorded, 0);
    assert.deepEqual(back.moments, first.moments);
    engine.configure({ cacheDir, memoryCacheBytes: 256 * 1024 * 1024 });
    assertOnlyCachesHoldMemory(engine);
  });

  it('keeps running in memory with one warning when the cache directory cannot be written', async () => {
    const blocked = join(tempDir('blocked'), 'file');
    writeFileSync(blocked, 'a file where the cache directory should be');
    engine.configure({ cacheDir: join(blocked, 'cache') });
    const result = await engine.run(compiledModel('structured_n8_d3'));
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0].message, /cannot be written.*in memory only/);
    assert.ok(result.sccs.recorded > 0);
    assertOnlyCachesHoldMemory(engine);
    engine.configure({ cacheDir });
  });
});
