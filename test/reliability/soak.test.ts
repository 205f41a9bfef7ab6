// The soak: many runs of two-locus n = 6 in one engine process, through the addon in
// this process and through the engine process (dist/server.js) over its real stdio
// transport. After every run the caches are the only owners of accounted memory; the
// resident set stops growing; Clear Caches returns accounted memory to the baseline.
//
// Short form by default (CI). Long form: `node scripts/soak.mjs --runs 200`, which sets
// PHASIC_SOAK_RUNS / PHASIC_SOAK_SERVER_RUNS and asserts the 5% bound of issue 8.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Engine } from '../../extension/engine/engine';
import type { MemorySnapshot } from '../../extension/protocol/engine';
import { mb, onlyCachesHold, totalAccounted } from '../memory';
import { compiledText, EngineProcess, engineSettings, TWO_LOCUS, TWO_LOCUS_N6, tempDir } from './helpers';

const RUNS = Number(process.env.PHASIC_SOAK_RUNS ?? 30);
const SERVER_RUNS = Number(process.env.PHASIC_SOAK_SERVER_RUNS ?? 20);
// Every CLEAR_EVERY runs the caches are cleared, so the soak records afresh, hits the
// memory cache and hits nothing in turn; run 10 and the last run are both the 10th
// run of a cycle, so their resident sets are measured in the same situation.
const CLEAR_EVERY = 10;
// Each run of a cycle sees the model as if edited (blank lines shift its source
// positions), so the engine explores, decomposes and composes every time instead of
// reusing the previous run of an unchanged text: the soak exercises the whole run.
const edited = (source: string, run: number) => '\n'.repeat(run % CLEAR_EVERY) + source;
// Prints every run's figures (scripts/soak.mjs --verbose).
const VERBOSE = process.env.PHASIC_SOAK_VERBOSE === '1';
const REFERENCE_RUN = 10;

// The resident set includes V8's heap, which grows and shrinks with garbage not yet
// collected; collecting before each measurement leaves what the run kept alive.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * The resident-memory check. Growth is measured as the growth of resident anonymous
 * memory (RssAnon) relative to the whole resident set at the reference run, that is:
 * the resident set, not counting pages of node's own executable faulted in the first
 * time a code path runs (measured: +3.4 MB of /usr/bin/node's text between run 10 and
 * run 200, when V8's optimizing compiler starts; the kernel can drop them at any time
 * and no run holds them). Both figures are printed.
 *
 * In this process (the addon): from run 10, 5% in the long form (issue 8), 10% in the
 * short form: a leak of one run's graph (peak accounted about 2.3 MB) per run adds
 * more than 45 MB over 20 runs, most of the ~55 MB resident set, so the looser bound
 * still catches any per-run leak. The garbage collector runs before each measurement.
 *
 * In the engine process (dist/server.js) V8 grows its heap's capacity, not its live
 * data, over the first ~120 back-to-back runs: measured +28 MB, with the live heap
 * after a full collection flat at 7.3 MB (docs/reliability.md). The process cannot be
 * told to collect from outside, so the long form (≥ 100 runs) asserts 5% from the
 * middle run on, once that growth has levelled off, and the short form 25% from run
 * 10: one leaked graph per run would add 23 MB (≈ 31%) over 10 runs.
 */
interface Bound {
  from: number;
  tolerance: number;
}

function addonBound(runs: number): Bound {
  return { from: REFERENCE_RUN, tolerance: runs >= 100 ? 0.05 : 0.1 };
}

function engineProcessBound(runs: number): Bound {
  return runs >= 100 ? { from: Math.floor(runs / 2), tolerance: 0.05 } : { from: REFERENCE_RUN, tolerance: 0.25 };
}

/** RssAnon of a process, from /proc/<pid>/status (Linux). */
function residentAnonymous(pid: number): number {
  const kb = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(kb, `RssAnon of process ${pid}`);
  return Number(kb[1]) * 1024;
}

interface Figures {
  baseline: MemorySnapshot;
  /** The engine's rssBytes after each run. */
  rss: number[];
  /** Resident anonymous memory after each run. */
  anon: number[];
  /** Accounted bytes after each Clear Caches. */
  cleared: number[];
}

function report(where: string, f: Figures, runs: number, bound: Bound): void {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const at = (series: number[], run: number) => series[run - 1];
  const line = (name: string, series: number[]) =>
    `${name} run 1 ${mb(at(series, 1))}, run ${bound.from} ${mb(at(series, bound.from))}, run ${runs} ` +
    `${mb(at(series, runs))}, max ${mb(Math.max(...series))}`;
  const growth = (at(f.anon, runs) - at(f.anon, bound.from)) / at(f.rss, bound.from);
  console.log(`# soak (${where}): ${runs} runs of two_locus n=6`);
  console.log(`#   ${line('rss:', f.rss)}`);
  console.log(`#   ${line('resident anonymous:', f.anon)}`);
  console.log(
    `#   growth from run ${bound.from} to run ${runs} without code pages: ${pct(growth)} (bound ${pct(bound.tolerance)})`,
  );
  console.log(
    `#   accounted: baseline ${totalAccounted(f.baseline)} B, after each of ${f.cleared.length} Clear Caches ` +
      `${[...new Set(f.cleared)].join(', ')} B; traces + cache = the caches' holdings after each of the ${runs} runs`,
  );
  assert.ok(
    growth <= bound.tolerance,
    `${where}: resident memory grew ${pct(growth)} from run ${bound.from} to run ${runs}`,
  );
}

describe('soak', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it(`${RUNS} runs in one process through the addon: only the caches hold memory, the resident set levels off`, async () => {
    assert.ok(RUNS >= REFERENCE_RUN, `at least ${REFERENCE_RUN} runs`);
    const dir = tempDir('soak');
    dirs.push(dir);
    const engine = new Engine();
    engine.configure({ cacheDir: dir, maxDiskBytes: 512 * 1024 * 1024 });
    const source = readFileSync(TWO_LOCUS, 'utf8');
    const modelDir = tempDir('soak-model');
    dirs.push(modelDir);
    const modelFile = join(modelDir, 'two_locus.phasic');
    const figures: Figures = { baseline: engine.memory(), rss: [], cleared: [], anon: [] };
    assert.equal(totalAccounted(figures.baseline), 0, 'the engine holds nothing before the first run');
    let expectedMean: number | undefined;

    for (let i = 1; i <= RUNS; i++) {
      if (i > 1 && (i - 1) % CLEAR_EVERY === 0) {
        await engine.clearCaches();
        const m = engine.memory();
        assert.deepEqual(
          m.accountedBytes,
          figures.baseline.accountedBytes,
          `accounted after Clear Caches before run ${i}`,
        );
        figures.cleared.push(totalAccounted(m));
      }
      const coal = 1 + (i % 7) / 10;
      writeFileSync(modelFile, edited(source, i));
      const result = await engine.run(compiledText(modelFile, TWO_LOCUS_N6), { params: { coal } });
      assert.equal(result.reused, false, `run ${i}: explored`);
      assert.equal(result.vertices, 1044, `run ${i}: vertices`);
      assert.equal(result.sccs.blocks, 97, `run ${i}: blocks`);
      assert.equal(onlyCachesHold(engine.memory()), undefined, `run ${i}`);
      // The same trace at the first run's parameters must give the first run's mean.
      const again = await engine.evaluate(result.traceKey, { coal: 1.1 });
      const mean = Number(again.moments[Object.keys(again.moments)[0]][0]);
      expectedMean ??= mean;
      assert.equal(mean, expectedMean, `run ${i}: re-evaluated mean`);
      collectGarbage();
      const m = engine.memory();
      assert.equal(onlyCachesHold(m), undefined, `run ${i} after evaluate`);
      figures.rss.push(m.rssBytes);
      figures.anon.push(residentAnonymous(process.pid));
      if (VERBOSE)
        console.log(
          `# addon run ${i}: rss ${mb(m.rssBytes)}, anonymous ${mb(figures.anon.at(-1)!)}, cache ${m.cache.bytes} B`,
        );
    }

    await engine.clearCaches();
    const m = engine.memory();
    assert.deepEqual(m.accountedBytes, figures.baseline.accountedBytes, 'accounted after the final Clear Caches');
    figures.cleared.push(totalAccounted(m));
    report('addon', figures, RUNS, addonBound(RUNS));
  });

  it(`${SERVER_RUNS} runs through the engine process over stdio JSON-RPC`, async () => {
    assert.ok(SERVER_RUNS >= REFERENCE_RUN, `at least ${REFERENCE_RUN} runs`);
    const dir = tempDir('soak-server');
    dirs.push(dir);
    const server = await EngineProcess.start(engineSettings(dir));
    const source = readFileSync(TWO_LOCUS, 'utf8');
    const modelDir = tempDir('soak-model');
    dirs.push(modelDir);
    const modelFile = join(modelDir, 'two_locus.phasic');
    try {
      const figures: Figures = { baseline: await server.request('phasic/memory', {}), rss: [], cleared: [], anon: [] };
      assert.equal(totalAccounted(figures.baseline), 0, 'the engine process holds nothing before the first run');
      for (let i = 1; i <= SERVER_RUNS; i++) {
        if (i > 1 && (i - 1) % CLEAR_EVERY === 0) {
          await server.request('phasic/clearCaches', {});
          const m = await server.request('phasic/memory', {});
          assert.deepEqual(
            m.accountedBytes,
            figures.baseline.accountedBytes,
            `accounted after Clear Caches before run ${i}`,
          );
          figures.cleared.push(totalAccounted(m));
        }
        writeFileSync(modelFile, edited(source, i));
        const reply = await server.run(modelFile, TWO_LOCUS_N6, i);
        assert.equal(reply.result.reused, false, `run ${i}: explored`);
        assert.equal(reply.result.vertices, 1044, `run ${i}: vertices`);
        const m = await server.request('phasic/memory', {});
        assert.equal(onlyCachesHold(m), undefined, `run ${i}`);
        figures.rss.push(m.rssBytes);
        figures.anon.push(residentAnonymous(server.child.pid!));
        if (VERBOSE)
          console.log(
            `# engine process run ${i}: rss ${mb(m.rssBytes)}, anonymous ${mb(figures.anon.at(-1)!)}, cache ${m.cache.bytes} B`,
          );
      }
      await server.request('phasic/clearCaches', {});
      const m = await server.request('phasic/memory', {});
      assert.deepEqual(m.accountedBytes, figures.baseline.accountedBytes, 'accounted after the final Clear Caches');
      figures.cleared.push(totalAccounted(m));
      report('engine process', figures, SERVER_RUNS, engineProcessBound(SERVER_RUNS));
      assert.ok(server.alive, 'the engine process is still running');
    } finally {
      await server.stop();
    }
  });
});
