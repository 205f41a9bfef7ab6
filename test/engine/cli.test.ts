// The phasic-trace command line (dist/cli.js, the shipped bundle): run --json on the
// compiled-model fixtures, the reference numbers of every model to rel 1e-9, errors,
// check, export and clear-caches.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PublicClear, PublicRun } from '../../extension/cli/contract';
import { assertClose, CLI, ENGINE_FIXTURES, MODEL_FIXTURES, tempDir } from './helpers';

type RunRecord = PublicRun;

const cacheDir = tempDir('cli-cache');

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Resolves once process `pid` has used `seconds` of CPU time (Linux: /proc/PID/stat). */
async function waitForCpuSeconds(pid: number, seconds: number): Promise<void> {
  const TICKS_PER_SECOND = 100; // USER_HZ on Linux
  for (;;) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // After "pid (comm) ": utime and stime are the 12th and 13th fields.
    if ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND >= seconds) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function runJson(args: string[]): RunRecord {
  const r = cli(['run', ...args, '--json', '--cache-dir', cacheDir]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout) as RunRecord;
}

interface Expectation {
  overrides: Record<string, number>;
  params: Record<string, number>;
  vertices?: number;
  edges?: number;
  sccs?: number;
  largest_scc?: number;
  sccs_with_at_least_10_vertices?: number;
  moments?: Record<string, number[]>;
  variance?: Record<string, number>;
  tolerance?: number;
}

describe('phasic-trace run --json', () => {
  it('prints one RunResult without decomposition for a compiled model', () => {
    const r = runJson([join(ENGINE_FIXTURES, 'rabbits.json'), '--moments', '1']);
    assert.equal(r.model, 'rabbits');
    assert.equal(r.vertices, 232);
    assert.equal(r.edges, 841);
    assert.deepEqual(Object.keys(r.params), ['jump', 'flood_l', 'flood_r']);
    assertClose(r.moments.time_to_extinction[0], 0.536563856863072, 1e-9, 'rabbits E[T]');
    assert.equal(r.moments.time_to_extinction.length, 1);
    assert.equal((r as { decomposition?: unknown }).decomposition, undefined);
    for (const key of ['sccs', 'trace', 'variance', 'covariance', 'timings_ms', 'memory'] as const)
      assert.ok(r[key] !== undefined, key);
    // What stays under graph is the parametric graph cached beside the trace (for distributions).
    assert.ok(r.memory.accounted_bytes.graph > 0);
    assert.equal(r.memory.accounted_bytes.subgraphs, 0);
    assert.ok(r.memory.peak_accounted_bytes > r.memory.accounted_bytes.traces);
    assert.equal(r.memory.blocks.length, r.sccs.blocks);
  });

  it('applies --param, --covariance and --min-scc', () => {
    const base = runJson([join(ENGINE_FIXTURES, 'structured.json'), '--param', 'mig=2', '--covariance', 'time,tmrca']);
    assert.deepEqual(base.params, { coal: 1, mig: 2 });
    // E[tmrca] = d whatever the migration rate (expected.json's closed form).
    assertClose(base.moments.tmrca[0], 2, 1e-12, 'E[tmrca]');
    assertClose(base.covariance['time,tmrca'], Number(base.variance.tmrca), 1e-12, 'Cov(time,tmrca)');
    const blocks = runJson([join(ENGINE_FIXTURES, 'structured.json'), '--min-scc', '2']);
    assert.equal(blocks.sccs.blocks, 1);
  });

  it('runs --repeat N times in one process, the later runs from the cache', () => {
    const r = cli(['run', join(ENGINE_FIXTURES, 'two_locus.json'), '--repeat', '3', '--json', '--no-cache']);
    assert.equal(r.status, 0, r.stderr);
    const { runs } = JSON.parse(r.stdout) as { runs: RunRecord[] };
    assert.equal(runs.length, 3);
    assert.ok(runs[0].sccs.recorded > 0);
    assert.equal(runs[0].reused, false);
    for (const later of runs.slice(1)) {
      assert.equal(later.reused, true, 'an unchanged model reuses the cached run');
      assert.equal(later.sccs.recorded, 0);
      assert.deepEqual(later.moments, runs[0].moments);
    }
  });

  it('stops a run that takes longer than --timeout, and one interrupted by Ctrl-C', async () => {
    // A chain of 10^8 states: minutes of exploration, well within the state limit given.
    const dir = tempDir('cli-timeout');
    const model = join(dir, 'long_chain.phasic');
    writeFileSync(
      model,
      'model long_chain\nparam mu = 1.0\nstate x in 0..100000000 = 0\n' +
        'rule step\n  when x < 100000000\n  rate mu\n  do x += 1\nreward time_to_end = 1\n',
    );
    const timed = cli(['run', model, '--no-cache', '--max-states', '200000000', '--timeout', '0.5', '--json']);
    assert.equal(timed.status, 1, timed.stderr + timed.stdout);
    const error = (JSON.parse(timed.stdout) as { error: { message: string; file: string } }).error;
    assert.equal(error.message, 'the run took longer than --timeout 0.5 s and was stopped');
    assert.equal(error.file, model);

    const child = spawn(process.execPath, [CLI, 'run', model, '--no-cache', '--max-states', '200000000']);
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Interrupt once the run is under way: start-up (Node, the bundle, the addon,
    // compiling the model) takes well under a second of CPU, the run takes minutes.
    await waitForCpuSeconds(child.pid!, 1);
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /long_chain\.phasic: interrupted; the run was stopped/);

    const usage = cli(['run', model, '--timeout', '0']);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--timeout: '0' must be a number > 0/);
  });

  it('reports an engine error with file, line and column under --json', () => {
    const dir = tempDir('cli-bounds');
    const file = join(dir, 'bounded.phasic');
    writeFileSync(file, 'model bounded\nstate k in 0..3 = 2\nrule up\n  when k >= 1\n  rate 1\n  do k += 1\n');
    const r = cli(['run', file, '--json', '--no-cache']);
    assert.equal(r.status, 1);
    const { error } = JSON.parse(r.stdout) as {
      error: { message: string; file: string; line: number; column: number };
    };
    assert.match(error.message, /above its upper bound 3/);
    assert.equal(error.file, file);
    assert.deepEqual([error.line, error.column], [6, 6], 'the update that left the bounds');
  });

  it('reports the state limit', () => {
    const r = cli(['run', join(MODEL_FIXTURES, 'two_locus.phasic'), '--max-states', '10', '--json', '--no-cache']);
    assert.equal(r.status, 1);
    const { error } = JSON.parse(r.stdout) as { error: { message: string; file: string } };
    assert.match(error.message, /more than 10 states/);
    assert.equal(error.file, join(MODEL_FIXTURES, 'two_locus.phasic'));
  });

  it('reports a compile error at its place, readable without --json', () => {
    const dir = tempDir('cli-bad');
    const file = join(dir, 'bad.phasic');
    writeFileSync(file, 'model bad\nparam a = 1\nstate k = 2\nrule r\n  rate a * a\n  do k -= 1\n');
    const json = cli(['run', file, '--json']);
    assert.equal(json.status, 1);
    const { error } = JSON.parse(json.stdout);
    assert.equal(error.file, file);
    assert.equal(error.line, 5);
    const plain = cli(['run', file]);
    assert.equal(plain.status, 1);
    assert.match(plain.stderr, new RegExp(`^phasic-trace: ${file}:5:\\d+: `));
  });

  it('rejects bad usage with status 2', () => {
    for (const args of [
      ['run'],
      ['run', 'x.phasic', '--moments', 'two'],
      ['run', 'x.phasic', '--set', 'n'],
      ['frobnicate'],
      ['run', 'x.phasic', '--no-cache', '--cache-dir', '/tmp'],
      ['export', 'x.phasic'],
    ]) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage:/);
    }
  });

  it('refuses an empty --cache-dir or --out, as an unset shell variable gives them, as a usage error', () => {
    // clear-caches --cache-dir '' said "removed 0 cache files (0 bytes) from " with status
    // 0, leaving the cache the user meant in place; run took '' as "no disk cache".
    const kingman = join(MODEL_FIXTURES, 'kingman.phasic');
    const cases: Array<[string[], RegExp]> = [
      [['clear-caches', '--cache-dir', ''], /--cache-dir needs a directory/],
      [['run', kingman, '--cache-dir', ''], /--cache-dir needs a directory/],
      [['dist', kingman, '--cache-dir', ''], /--cache-dir needs a directory/],
      [['export', kingman, '--format', 'phasic-json', '--out', ''], /--out needs a file name/],
    ];
    for (const [args, message] of cases) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });

  it('refuses an integer option beyond what the engine takes as a usage error naming the option', () => {
    // These reached the engine: --max-states 1e20 was "maxStates must be a non-negative
    // integer" (exit 1), --min-scc 4294967300 wrapped to 4 and ran (--starts: fit.test.ts).
    const kingman = join(MODEL_FIXTURES, 'kingman.phasic');
    const cases: Array<[string[], RegExp]> = [
      [['run', kingman, '--max-states', '1e20'], /--max-states: '1e20' must be an integer from 1 to 9000000000000000/],
      [
        ['dist', kingman, '--memory-budget', '1e12'],
        /--memory-budget: '1e12' must be an integer from 16 to 8583068847/,
      ],
      [['run', kingman, '--min-scc', '4294967300'], /--min-scc: '4294967300' must be an integer from 2 to 4294967295/],
      [['run', kingman, '--repeat', '1e17'], /--repeat: '1e17' must be an integer from 1 to 9007199254740991/],
    ];
    for (const [args, message] of cases) {
      const r = cli([...args, '--no-cache']);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /usage:/);
    }
  });
});

describe('reference numbers through the CLI', () => {
  const expected = JSON.parse(readFileSync(join(MODEL_FIXTURES, 'expected.json'), 'utf8')) as Record<
    string,
    Expectation
  >;
  for (const [name, e] of Object.entries(expected)) {
    if (name.startsWith('_')) continue;
    it(name, () => {
      const file = join(MODEL_FIXTURES, name.split(' ')[0]);
      const args = [file];
      for (const [k, v] of Object.entries(e.overrides)) args.push('--set', `${k}=${v}`);
      for (const [k, v] of Object.entries(e.params)) args.push('--param', `${k}=${v}`);
      const k = Math.max(2, ...Object.values(e.moments ?? {}).map((m) => m.length));
      args.push('--moments', String(k));
      const r = runJson(args);
      const rel = e.tolerance ?? 1e-9;
      if (e.vertices !== undefined) assert.equal(r.vertices, e.vertices);
      if (e.edges !== undefined) assert.equal(r.edges, e.edges);
      if (e.sccs !== undefined) assert.equal(r.sccs.count, e.sccs);
      if (e.largest_scc !== undefined) assert.equal(r.sccs.largest, e.largest_scc);
      for (const [reward, moments] of Object.entries(e.moments ?? {}))
        moments.forEach((m, i) => assertClose(r.moments[reward][i], m, rel, `${reward} E[R^${i + 1}]`));
      for (const [reward, v] of Object.entries(e.variance ?? {}))
        assertClose(r.variance[reward], v, rel, `Var ${reward}`);
      if (e.sccs_with_at_least_10_vertices !== undefined) {
        const tens = runJson([...args, '--min-scc', '10']);
        assert.equal(tens.sccs.blocks, e.sccs_with_at_least_10_vertices);
        assert.deepEqual(tens.moments, r.moments);
      }
    });
  }
});

describe('phasic-trace check, export and clear-caches', () => {
  it('check prints file:line:col severity message', () => {
    const dir = tempDir('cli-check');
    const file = join(dir, 'unused.phasic');
    writeFileSync(file, 'model m\nconst unused = 3\nstate k = 1\nrule r\n  when k >= 1\n  rate 1\n  do k -= 1\n');
    const r = cli(['check', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${file}:2:\\d+: warning: `, 'm'));
    const clean = cli(['check', join(MODEL_FIXTURES, 'kingman.phasic'), '--json']);
    assert.equal(clean.status, 0);
    assert.deepEqual(JSON.parse(clean.stdout), { diagnostics: [] });
  });

  it('export writes phasic graph JSON that runs to the same moments', () => {
    const dir = tempDir('cli-export');
    const out = join(dir, 'kingman.json');
    const r = cli([
      'export',
      join(MODEL_FIXTURES, 'kingman.phasic'),
      '--format',
      'phasic-json',
      '--set',
      'n=5',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const graph = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(graph.n_vertices, 6);
    assert.equal(graph.param_length, 1);
    assert.equal(graph.state_length, 1);
    assert.deepEqual(graph.states[0], [0]);
    assert.deepEqual(graph.start_edges, [[1, 1]]);
    const fromPhasic = runJson([out, '--moments', '2']);
    const fromSource = runJson([join(MODEL_FIXTURES, 'kingman.phasic'), '--set', 'n=5', '--moments', '2']);
    assert.deepEqual(fromPhasic.moments.time, fromSource.moments.time);
    assert.deepEqual(fromPhasic.params, { p1: 1 });
  });

  it('clear-caches removes the disk cache of a directory and reports it', () => {
    const dir = tempDir('cli-clear');
    const first = cli(['run', join(ENGINE_FIXTURES, 'two_locus.json'), '--cache-dir', dir]);
    assert.equal(first.status, 0, first.stderr);
    // Block files and the run's own entry (engine/run_entry.hpp).
    const files = readdirSync(dir).filter((f) => f.endsWith('.trace') || f.endsWith('.run'));
    assert.ok(files.some((f) => f.endsWith('.trace')));
    assert.equal(files.filter((f) => f.endsWith('.run')).length, 1);
    writeFileSync(join(dir, 'keep.txt'), 'not a cache file');
    const r = cli(['clear-caches', '--cache-dir', dir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as PublicClear;
    assert.equal(result.disk.files, files.length);
    assert.ok(result.disk.bytes > 0);
    assert.deepEqual(readdirSync(dir), ['keep.txt']);
  });

  it('shares one cache directory between two processes without torn files', async () => {
    const dir = tempDir('cli-shared');
    const model = join(ENGINE_FIXTURES, 'two_locus_n6.json');
    const runOnce = () =>
      new Promise<RunRecord>((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, 'run', model, '--json', '--cache-dir', dir]);
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}`))));
      });
    const [a, b] = await Promise.all([runOnce(), runOnce()]);
    assert.deepEqual(a.moments, b.moments);
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')), 'no temporary file is left behind');
    const third = cli(['run', model, '--json', '--cache-dir', dir]);
    const c = JSON.parse(third.stdout) as RunRecord;
    assert.equal(c.sccs.recorded, 0, 'every block loads from the shared directory');
    assert.deepEqual(c.moments, a.moments);
  });

  it('uses $XDG_CACHE_HOME/phasic-trace by default', () => {
    const home = tempDir('cli-xdg');
    const r = cli(['run', join(ENGINE_FIXTURES, 'two_locus.json'), '--json'], { XDG_CACHE_HOME: home });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(home, 'phasic-trace')));
    assert.ok(readdirSync(join(home, 'phasic-trace')).some((f) => f.endsWith('.trace')));
  });

  it('runs a copy of a model outside the repository', () => {
    const dir = tempDir('cli-copy');
    copyFileSync(join(MODEL_FIXTURES, 'kingman_sfs.phasic'), join(dir, 'sfs.phasic'));
    const r = runJson([join(dir, 'sfs.phasic'), '--moments', '1']);
    assertClose(r.moments['xi[2]'][0], 2 / 3, 1e-9, 'E[xi[2]]');
  });
});
