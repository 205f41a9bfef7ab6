// Faults: the engine process killed mid-run, two engine processes sharing one cache
// directory, a full disk, a memory budget below what a model needs. Each through the
// real engine process (dist/server.js) over its stdio transport, restarted after a
// kill as the extension's client restarts it.
//
// Already covered elsewhere, not repeated here (docs/reliability.md): a cache
// directory whose path runs through a regular file (test/engine/engine.test.ts),
// damaged cache files (same), the memory budget through the addon (same), two CLI
// processes sharing a directory (test/engine/cli.test.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunResult } from '../../extension/protocol/engine';
import type { RunReply } from '../../extension/protocol/requests';
import { onlyCachesHold, totalAccounted } from '../memory';
import { random } from '../random';
import { EngineProcess, engineSettings, TWO_LOCUS, TWO_LOCUS_N6, tempDir } from './helpers';

const KILLS = 20;
const TRACE_FILE = /^[0-9a-f]{32}\.trace$/;
// A model's run entry (native/src/engine/run_entry.hpp); its key hashes the engine's
// build id, so tests take its name from the directory.
const RUN_FILE = /^[0-9a-f]{32}\.run$/;
// A writer's temporary file: .<key>.<pid>.<n>.tmp (native/src/cache/disk_cache.cpp).
const TEMP_FILE = /^\.[0-9a-f]{32}\.\d+\.\d+\.tmp$/;
const HEADER_BYTES = 64;
// What each prune writes in place, so a run that wrote nothing can skip the scan.
const PRUNE_STAMP = '.phasic-prune-stamp';
// Below the larger trace files of two_locus n = 6 and above the smaller ones, so
// some writes succeed and some fail.
const FILE_SIZE_LIMIT = 4096;

function traceFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => TRACE_FILE.test(f))
    .sort();
}

function runFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => RUN_FILE.test(f))
    .sort();
}

/** Removes the run entries, so that the next run reads the block files. */
function removeRunEntries(dir: string): void {
  for (const f of runFiles(dir)) rmSync(join(dir, f));
}

/**
 * What a reader can tell from outside the engine: the name is the engine's, the header
 * carries the magic, version 2 and the key of the name, and the two lengths add up to
 * the file's size (a torn file fails this). The checksum is checked by loading.
 */
function assertWholeFile(dir: string, name: string): void {
  const bytes = readFileSync(join(dir, name));
  assert.ok(bytes.length >= HEADER_BYTES, `${name}: ${bytes.length} bytes, shorter than the header`);
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'PHTRACE\0', `${name}: magic`);
  assert.equal(bytes.readUInt32LE(8), 2, `${name}: format version`);
  const keyHex = Buffer.concat([bytes.subarray(16, 24).reverse(), bytes.subarray(24, 32).reverse()]).toString('hex');
  assert.equal(keyHex, name.slice(0, 32), `${name}: key in the header`);
  const payload = Number(bytes.readBigUInt64LE(32));
  const canonical = Number(bytes.readBigUInt64LE(40));
  assert.equal(HEADER_BYTES + payload + canonical, bytes.length, `${name}: lengths against the size`);
}

/**
 * Every file in the directory is a whole trace file or run entry, a writer's temporary
 * file, or the prune stamp (.phasic-prune-stamp, written in place by each prune).
 */
function assertOnlyEngineFiles(dir: string): { traces: string[]; runs: string[]; temps: string[] } {
  const names = readdirSync(dir);
  const traces = names.filter((f) => TRACE_FILE.test(f));
  const runs = names.filter((f) => RUN_FILE.test(f));
  const temps = names.filter((f) => TEMP_FILE.test(f));
  assert.deepEqual(
    names.filter((f) => !traces.includes(f) && !runs.includes(f) && !temps.includes(f) && f !== PRUNE_STAMP),
    [],
    'files the engine did not name',
  );
  for (const name of [...traces, ...runs]) assertWholeFile(dir, name);
  return { traces, runs, temps };
}

/**
 * Loads every trace file through a fresh engine process: a file that passes the
 * engine's checks is a disk hit; one that fails is removed and its block recorded
 * again, which shows here as a recorded block whose file was present.
 */
function assertFilesLoad(result: RunResult, present: string[]): void {
  const keys = new Set(present.map((f) => f.slice(0, 32)));
  const bySource = (source: string) => result.decomposition.sccs.filter((s) => s.source === source).map((s) => s.key);
  const rerecorded = bySource('recorded').filter((k) => keys.has(k));
  assert.deepEqual(rerecorded, [], 'blocks recorded again although their file was on disk (a rejected file)');
  const fromDisk = new Set(bySource('disk'));
  for (const key of keys) assert.ok(fromDisk.has(key), `${key}.trace was not loaded from disk`);
}

describe('faults', () => {
  const dirs: string[] = [];
  const engines: EngineProcess[] = [];
  after(async () => {
    await Promise.all(engines.map((e) => e.kill()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });
  const dir = (prefix: string) => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
  const start = async (cacheDirectory: string, overrides = {}, limits: { fileSizeLimitBytes?: number } = {}) => {
    const engine = await EngineProcess.start(engineSettings(cacheDirectory, overrides), limits);
    engines.push(engine);
    return engine;
  };

  it(`recovers from ${KILLS} SIGKILLs at random points of a run with only whole, valid cache files`, async () => {
    const cacheDir = dir('kill');
    // The reference: a run without a disk cache.
    const plain = await start('');
    const began = Date.now();
    const reference = (await plain.run(TWO_LOCUS, TWO_LOCUS_N6, 0)).result;
    // Random kills land within the time a whole run takes on this machine.
    const runMs = Date.now() - began;
    await plain.stop();
    const seed = Number(process.env.PHASIC_FAULT_SEED ?? 8);
    const rand = random(seed);
    const where: string[] = [];

    for (let kill = 1; kill <= KILLS; kill++) {
      // Forget a random part of the cache so that the killed run has blocks to write (and
      // the run entry, or the run would be answered from it without recording).
      removeRunEntries(cacheDir);
      for (const f of traceFiles(cacheDir)) if (rand() < 0.6) rmSync(join(cacheDir, f));
      const engine = await start(cacheDir);
      // Half of the kills land at a random time, half inside recording, after a random
      // number of block events (each block is looked up, recorded and written there).
      const inRecording = kill % 2 === 0;
      const afterBlocks = 1 + Math.floor(rand() * 60);
      const afterMs = Math.floor(rand() * runMs);
      let blocks = 0;
      let phase = 'starting';
      engine.connection.onNotification('phasic/progress', (p: { progress: { phase: string } }) => {
        phase = p.progress.phase;
      });
      const killed = new Promise<void>((resolve) => {
        if (inRecording) {
          engine.connection.onNotification('phasic/blockEvent', () => {
            if (++blocks === afterBlocks) resolve();
          });
        } else setTimeout(resolve, afterMs);
      });
      const run = engine.run(TWO_LOCUS, TWO_LOCUS_N6, kill).then(
        () => 'finished',
        () => 'failed',
      );
      const outcome = await Promise.race([killed.then(() => 'killed'), run]);
      await engine.kill('SIGKILL');
      where.push(
        outcome === 'killed'
          ? `${phase}${inRecording ? ` (block event ${afterBlocks})` : ` (${afterMs} ms)`}`
          : `after the run (${outcome})`,
      );

      const { traces, runs } = assertOnlyEngineFiles(cacheDir);
      if (runs.length > 0) {
        // A run entry the killed process left answers a fresh process, rightly.
        const answering = await start(cacheDir);
        const { result } = await answering.run(TWO_LOCUS, TWO_LOCUS_N6, 50 + kill);
        assert.equal(result.reused, true, `kill ${kill}: the whole run entry is read`);
        assert.deepEqual(result.moments, reference.moments, `kill ${kill}: moments from the run entry`);
        await answering.stop();
        removeRunEntries(cacheDir);
      }
      // The client starts a fresh engine process, whose run loads every file left.
      const restarted = await start(cacheDir);
      const { result } = await restarted.run(TWO_LOCUS, TWO_LOCUS_N6, 100 + kill);
      assert.deepEqual(result.moments, reference.moments, `kill ${kill}: moments after the restart`);
      assertFilesLoad(result, traces);
      assert.equal(onlyCachesHold(await restarted.request('phasic/memory', {})), undefined);
      await restarted.stop();
    }
    const { traces, temps } = assertOnlyEngineFiles(cacheDir);
    console.log(`# faults: ${KILLS} SIGKILLs (seed ${seed}, a run takes ${runMs} ms) at: ${where.join('; ')}`);
    console.log(
      `# faults: afterwards ${traces.length} trace files, all whole and loaded; ${temps.length} temporary files left by killed writers`,
    );
    assert.ok(
      where.filter((w) => w.startsWith('recording')).length >= KILLS / 4,
      'enough kills landed inside recording',
    );
  });

  it('ignores temporary files a killed writer left, and removes them once they are ten minutes old', async () => {
    const cacheDir = dir('temps');
    const first = await start(cacheDir);
    await first.run(TWO_LOCUS, TWO_LOCUS_N6, 1);
    await first.kill('SIGKILL');
    const [victim] = traceFiles(cacheDir);
    const [runEntry] = runFiles(cacheDir);
    // What SIGKILL during a write leaves: a prefix of the file under the writer's name,
    // and no final file (the rename had not happened). Once for a block's file, once for
    // the run entry (written last, so the one a kill at the end of a run cuts off).
    const leftovers = [victim, runEntry].map((name, i) => {
      const whole = readFileSync(join(cacheDir, name));
      rmSync(join(cacheDir, name));
      const key = name.slice(0, 32);
      const stale = join(cacheDir, `.${key}.999999.${2 * i + 1}.tmp`);
      const fresh = join(cacheDir, `.${key}.999999.${2 * i + 2}.tmp`);
      writeFileSync(stale, whole.subarray(0, whole.length >> 1));
      writeFileSync(fresh, whole.subarray(0, 10));
      const elevenMinutesAgo = (Date.now() - 11 * 60_000) / 1000;
      utimesSync(stale, elevenMinutesAgo, elevenMinutesAgo);
      return { stale, fresh };
    });
    const key = victim.slice(0, 32);

    const engine = await start(cacheDir);
    const { result } = await engine.run(TWO_LOCUS, TWO_LOCUS_N6, 2);
    assert.equal(result.reused, false, 'a cut-off run entry is not read');
    const victimScc = result.decomposition.sccs.find((s) => s.key === key);
    assert.equal(victimScc?.source, 'recorded', 'the block whose write was cut off is recorded again');
    assert.ok(traceFiles(cacheDir).includes(victim), 'and its file written whole');
    assertWholeFile(cacheDir, victim);
    assert.deepEqual(runFiles(cacheDir), [runEntry], 'the run entry is written again');
    assertWholeFile(cacheDir, runEntry);
    const memory = await engine.request('phasic/memory', {});
    assert.equal(
      memory.cache.diskFiles,
      traceFiles(cacheDir).length + runFiles(cacheDir).length,
      'temporary files are not counted as cache files',
    );
    for (const { stale, fresh } of leftovers) {
      assert.ok(!existsSync(stale), `the pruning at the end of the run removed the stale temporary file ${stale}`);
      assert.ok(existsSync(fresh), `and kept the one that may still be in flight, ${fresh}`);
    }

    await engine.request('phasic/clearCaches', {});
    const left = readdirSync(cacheDir).sort();
    assert.deepEqual(
      left,
      leftovers.map(({ fresh }) => fresh.slice(cacheDir.length + 1)).sort(),
      'Clear Caches keeps a temporary file that may still be in flight',
    );
    await engine.stop();
  });

  it('two engine processes sharing one cache directory both finish correctly, without a torn file', async () => {
    const cacheDir = dir('shared');
    const plain = await start('');
    const reference = (await plain.run(TWO_LOCUS, TWO_LOCUS_N6, 0)).result;
    await plain.stop();
    for (let round = 1; round <= 3; round++) {
      for (const f of readdirSync(cacheDir)) rmSync(join(cacheDir, f));
      const [a, b] = await Promise.all([start(cacheDir), start(cacheDir)]);
      const [ra, rb] = await Promise.all([a.run(TWO_LOCUS, TWO_LOCUS_N6, 1), b.run(TWO_LOCUS, TWO_LOCUS_N6, 1)]);
      assert.deepEqual(ra.result.moments, reference.moments, `round ${round}: first window's moments`);
      assert.deepEqual(rb.result.moments, reference.moments, `round ${round}: second window's moments`);
      const { traces, runs, temps } = assertOnlyEngineFiles(cacheDir);
      assert.deepEqual(temps, [], 'both writers renamed or removed their temporary files');
      assert.equal(traces.length, reference.sccs.recorded, 'one file per distinct block');
      assert.equal(runs.length, 1, 'one run entry, written by both under one name');
      await Promise.all([a.stop(), b.stop()]);
      const third = await start(cacheDir);
      const answered = (await third.run(TWO_LOCUS, TWO_LOCUS_N6, 2)).result;
      assert.equal(answered.reused, true, 'a third window is answered from the shared run entry');
      assert.deepEqual(answered.moments, reference.moments, `round ${round}: moments from the run entry`);
      await third.stop();
      removeRunEntries(cacheDir);
      const fourth = await start(cacheDir);
      const { result } = await fourth.run(TWO_LOCUS, TWO_LOCUS_N6, 3);
      assert.equal(result.sccs.recorded, 0, 'without it, a window loads every block from the shared files');
      assertFilesLoad(result, traces);
      await fourth.stop();
    }
  });

  // A full disk, two ways. A 64 KiB tmpfs needs mount privileges (root here and in
  // CI; a sandbox may refuse, and then the case shows as skipped, not passed). A file
  // size limit on the engine process makes its larger writes fail the same way
  // (EFBIG instead of ENOSPC) and runs anywhere.
  const fullDisk = async (cacheDir: string, limits: { fileSizeLimitBytes?: number }) => {
    const engine = await start(cacheDir, {}, limits);
    const plain = (await (await start('')).run(TWO_LOCUS, TWO_LOCUS_N6, 0)).result;
    const { result } = await engine.run(TWO_LOCUS, TWO_LOCUS_N6, 1);
    assert.deepEqual(result.moments, plain.moments, 'moments of the run on a full disk');
    assert.equal(result.warnings.length, 1, `one warning, got ${JSON.stringify(result.warnings)}`);
    assert.match(result.warnings[0].message, /in memory only/);
    console.log(`# faults: full disk warning: ${result.warnings[0].message}`);
    // What did fit is whole; the write that failed left nothing behind.
    const { traces, temps } = assertOnlyEngineFiles(cacheDir);
    assert.deepEqual(temps, [], 'no temporary file left by the failed write');
    assert.ok(
      traces.length < result.sccs.recorded,
      `some writes failed (${traces.length} of ${result.sccs.recorded} blocks on disk)`,
    );
    assert.equal(onlyCachesHold(await engine.request('phasic/memory', {})), undefined);
    // The next run tries the disk again and warns again, once.
    const again = await engine.run(TWO_LOCUS, { n: 5 }, 2);
    assert.ok(again.result.warnings.length <= 1, 'at most one warning per run');
    await engine.stop();
    // What reached the disk loads in a fresh process (one without the limit).
    const reader = await start(cacheDir);
    assertFilesLoad((await reader.run(TWO_LOCUS, TWO_LOCUS_N6, 3)).result, traces);
    await reader.stop();
  };

  it('completes in memory with one warning when the cache directory is on a full disk (64 KiB tmpfs)', async (t) => {
    const mountPoint = dir('full');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (error) {
      t.skip(
        `cannot mount a 64 KiB tmpfs here (${(error as Error).message.split('\n')[0]}); the file size limit case below covers the fault`,
      );
      return;
    }
    try {
      await fullDisk(mountPoint, {});
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });

  it('completes in memory with one warning when its cache writes fail with EFBIG (file size limit)', async () => {
    await fullDisk(dir('fsize'), { fileSizeLimitBytes: FILE_SIZE_LIMIT });
  });

  it('stops at a memory budget below what the model needs, with the engine process alive and its memory released', async () => {
    const engine = await start(dir('budget'), { memoryBudgetBytes: 200_000 });
    const failure = await engine.run(TWO_LOCUS, TWO_LOCUS_N6, 1).then(
      () => undefined,
      (error: { message: string; data?: { kind: string } }) => error,
    );
    assert.ok(failure, 'the run fails');
    assert.equal(failure.data?.kind, 'budget');
    assert.match(failure.message, /memory budget/);
    console.log(`# faults: budget error: ${failure.message}`);
    assert.ok(engine.alive, 'the engine process is alive');
    const m = await engine.request('phasic/memory', {});
    assert.equal(onlyCachesHold(m), undefined, 'only the caches hold memory after the failure');
    assert.equal(m.accountedBytes.graph, 0);
    // Released for real: Clear Caches brings accounted memory to zero, and with the
    // budget lifted the same engine process runs the model.
    await engine.request('phasic/clearCaches', {});
    assert.equal(totalAccounted(await engine.request('phasic/memory', {})), 0);
    await engine.connection.sendNotification('phasic/configure', engineSettings(dir('budget-lifted')));
    const reply: RunReply = await engine.run(TWO_LOCUS, TWO_LOCUS_N6, 2);
    assert.equal(reply.result.vertices, 1044);
    await engine.stop();
  });
});
