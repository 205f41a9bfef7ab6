// The fitting figure of issue 14: a one-parameter fit of a two-deme SFS model with
// n = 10 (examples/two_deme_sfs.phasic, `--fit mig`), exploration included, through
// the real command line as a user runs it: `node dist/cli.js fit ... --no-cache
// --json`, a new process each time, so every repetition explores, records and fits
// from nothing. Prints the medians of the process's wall time and of the CLI's own
// `timings_ms` (run, optimize, information, total), for the example's start
// (mig = 0.5), a far start (mig = 0.005) and five starting points, and writes
// bench/results.fit.json. Like bench/run.mjs it never fails on a timing.
//
//   node bench/fit.mjs [--reps N]
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const reps = Number(args[args.indexOf('--reps') + 1] ?? 0) || 9;
const CLI = join('dist', 'cli.js');
const TARGET_MS = 1000;
const BASE = [
  'fit',
  'examples/two_deme_sfs.phasic',
  '--data',
  'examples/two_deme_sfs.fs',
  '--sfs-reward',
  'xi',
  '--fit',
  'mig',
  '--no-cache',
  '--json',
];
const CASES = [
  { label: 'start mig=0.5 (the default)', extra: [] },
  { label: 'far start mig=0.005', extra: ['--start', 'mig=0.005'] },
  { label: '5 starting points', extra: ['--starts', '5'] },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const results = [];
  for (const c of CASES) {
    const samples = [];
    for (let i = 0; i <= reps; i++) {
      const started = performance.now();
      const r = spawnSync(process.execPath, [CLI, ...BASE, ...c.extra], { encoding: 'utf8' });
      const wall = performance.now() - started;
      if (r.status !== 0) throw new Error(`${c.label}: exit ${r.status}: ${r.stderr}`);
      const fit = JSON.parse(r.stdout);
      if (i > 0) samples.push({ wall, fit }); // the first run warms the file cache
    }
    const t = (k) => median(samples.map((s) => s.fit.timings_ms[k]));
    const result = {
      label: c.label,
      process_wall_ms: median(samples.map((s) => s.wall)),
      run_ms: t('run'),
      optimize_ms: t('optimize'),
      information_ms: t('information'),
      total_ms: t('total'),
      iterations: median(samples.map((s) => s.fit.iterations)),
      estimate: samples[0].fit.estimates.mig,
      target_ms: TARGET_MS,
    };
    result.met = result.process_wall_ms <= TARGET_MS;
    results.push(result);
    console.log(
      `${c.label}: ${result.process_wall_ms.toFixed(0)} ms for the whole process ` +
        `(fit ${result.total_ms.toFixed(1)} ms: run ${result.run_ms.toFixed(1)}, optimize ${result.optimize_ms.toFixed(1)}, ` +
        `information ${result.information_ms.toFixed(1)}; ${result.iterations} iterations, mig = ${result.estimate.toPrecision(6)}) ` +
        `— target ≤ ${TARGET_MS} ms ${result.met ? 'met' : 'MISSED'}`,
    );
  }
  const report = {
    date: new Date().toISOString(),
    machine: { nproc: os.availableParallelism(), load_average: os.loadavg(), node: process.version },
    reps,
    results,
  };
  writeFileSync(join('bench', 'results.fit.json'), `${JSON.stringify(report, null, 2)}\n`);
}

main();
