// Runs the benchmark suite: builds out/bench/engine_bench, compiles each model of the
// suite with the front end (out/bench/compile.js, bundled by esbuild.mjs), runs the
// binary on it, compares the numbers with the targets and writes
// bench/results.json and bench/results.md (--quick: a small subset, written to
// bench/results.quick.{json,md} so it never replaces a full run's record).
//
//   node bench/run.mjs [--quick] [--only SUBSTRING]...
//
// It prints numbers and marks targets met or missed; it never fails on a timing.
// It exits non-zero only when something could not run or a solver disagrees with
// the trace, because then the numbers themselves are not trustworthy.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { buildBench } from './build.mjs';
import { SUITE, TARGETS } from './suite.mjs';
import { markdown } from './table.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.flatMap((a, i) => (args[i - 1] === '--only' ? [a] : []));
const COMPILER = join('out', 'bench', 'compile.js');
const MODELS = join('out', 'bench', 'models');

function modelSource(file) {
  for (const dir of ['examples', join('test', 'fixtures', 'models')]) {
    const path = join(dir, file);
    if (existsSync(path)) return path;
  }
  throw new Error(`model ${file} is neither in examples/ nor in test/fixtures/models/`);
}

// Compiled-model JSON of one suite entry, recompiled when the source or the
// compiler is newer.
function compiledModel(entry) {
  const source = modelSource(entry.file);
  const target = join(MODELS, `${entry.label.replace(/[^A-Za-z0-9=-]+/g, '_')}.json`);
  const built = existsSync(target) ? statSync(target).mtimeMs : -Infinity;
  if (statSync(source).mtimeMs >= built || statSync(COMPILER).mtimeMs >= built) {
    const overrides = Object.entries(entry.overrides).map(([k, v]) => `${k}=${v}`);
    execFileSync(process.execPath, [COMPILER, source, target, ...overrides], { stdio: 'inherit' });
  }
  return { source, target };
}

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const git = (...a) => {
    try {
      return execFileSync('git', a, { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return {
    nproc: os.availableParallelism(),
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown',
    memory_bytes: Number(/MemTotal:\s*(\d+) kB/.exec(meminfo)?.[1] ?? 0) * 1024,
    kernel: os.release(),
    node: process.version,
    compiler: execFileSync('g++', ['--version'], { encoding: 'utf8' }).split('\n')[0],
    flags: '-std=c++20 -O3 (as the addon)',
    commit: git('rev-parse', '--short', 'HEAD'),
    load_average_start: os.loadavg(),
  };
}

// The ratios the targets need. A solver's cost per θ is what it takes to produce
// what one evaluation produces: assemble −T at θ, factorise (the analysis is reused
// across θ, like the trace), and one solve per solve the evaluation runs (two
// moments of every reward). Ratios use the fastest solver that ran and agreed with
// the trace; the best UMFPACK strategy is reported beside it.
function derive(r) {
  const runs = (r.solver?.runs ?? []).filter((s) => !s.skipped && s.agrees);
  const assemble = r.solver?.assemble_ms?.median ?? 0;
  const perTheta = (s) => assemble + s.factorise_ms.median + r.trace.solves_per_evaluation * s.solve_ms.median;
  const setup = (s) => s.analyse_ms.median + s.factorise_ms.median;
  const min = (list, f) => list.reduce((best, s) => (best === undefined || f(s) < f(best) ? s : best), undefined);
  const fastest = min(runs, perTheta);
  const umfpack = min(
    runs.filter((s) => s.name.startsWith('UMFPACK')),
    perTheta,
  );
  const fastestSetup = min(runs, setup);
  // A matrix that is triangular after permutation needs no factorisation flops: the
  // ratio of trace operations to LU flops is then undefined, not infinite.
  const fewestFlops = min(
    runs.filter((s) => s.flops > 0),
    (s) => s.flops,
  );
  const triangular = runs.length > 0 && runs.some((s) => s.flops === 0);
  const evalMs = r.evaluate.single_ms.median;
  // Timed as one stage like the solver's (engine_bench.cpp); older results summed the parts.
  const recordMs = r.phases.record_compose_ms?.median ?? r.phases.record_ms.median + r.phases.compose_ms.median;
  return {
    solver_fastest: fastest?.name,
    solver_per_theta_ms: fastest && perTheta(fastest),
    solver_over_eval: fastest && perTheta(fastest) / evalMs,
    umfpack: umfpack?.name,
    umfpack_per_theta_ms: umfpack && perTheta(umfpack),
    umfpack_over_eval: umfpack && perTheta(umfpack) / evalMs,
    // One gradient (every moment and variance by every parameter) in evaluations.
    gradient_over_eval: r.evaluate.gradient_ms && r.evaluate.gradient_ms.median / evalMs,
    record_ms: recordMs,
    solver_setup: fastestSetup?.name,
    solver_analyse_factor_ms: fastestSetup && setup(fastestSetup),
    record_over_solver: fastestSetup && recordMs / setup(fastestSetup),
    lu_flops: triangular ? 0 : fewestFlops?.flops,
    lu_flops_solver: triangular ? 'triangular' : fewestFlops?.name,
    nnz_lu: min(runs, (s) => s.nnz_lu)?.nnz_lu,
    ops_per_lu_flop: triangular ? undefined : fewestFlops && r.trace.operations / fewestFlops.flops,
  };
}

function verdicts(results) {
  const out = [];
  for (const t of TARGETS) {
    for (const r of results.filter((r) => !r.error && t.applies(r))) {
      const value = t.value(r);
      const status =
        value === undefined || Number.isNaN(value)
          ? 'n/a'
          : (t.atMost ? value <= t.limit : value >= t.limit)
            ? 'met'
            : 'missed';
      out.push({
        target: t.id,
        text: t.text,
        label: r.label,
        value,
        limit: t.limit,
        unit: t.unit,
        atMost: t.atMost,
        status,
      });
    }
    // A model that did not complete misses every target that would have applied to it.
    for (const r of results.filter((r) => r.error && t.applies(r)))
      out.push({
        target: t.id,
        text: t.text,
        label: r.label,
        value: undefined,
        limit: t.limit,
        unit: t.unit,
        atMost: t.atMost,
        status: 'missed',
      });
  }
  return out;
}

function main() {
  if (!existsSync(COMPILER))
    throw new Error(`${COMPILER} is missing: run \`npm run build\` (or \`node esbuild.mjs\`) first`);
  const binary = buildBench();
  mkdirSync(MODELS, { recursive: true });
  const info = machine();
  const entries = SUITE.filter(
    (e) => (!quick || e.quick) && (only.length === 0 || only.some((o) => e.label.includes(o))),
  );
  const results = [];
  let broken = 0;
  for (const entry of entries) {
    const started = Date.now();
    process.stderr.write(`bench: ${entry.label} ... `);
    const reps = quick ? Math.min(entry.reps, 3) : entry.reps;
    let result;
    try {
      const { source, target } = compiledModel(entry);
      const run = spawnSync(
        binary,
        [
          '--model',
          target,
          '--label',
          entry.label,
          '--reps',
          String(reps),
          '--solver-reps',
          String(quick ? 1 : Math.min(reps, 3)),
          '--solver-timeout',
          String(quick ? 20 : 300),
        ],
        {
          encoding: 'utf8',
          timeout: (quick ? 120 : 3600) * 1000,
          maxBuffer: 64 << 20,
          // The engine is single threaded; so are the solvers' BLAS calls, for a like comparison.
          env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
        },
      );
      if (run.stderr) process.stderr.write(`\n${run.stderr}`);
      if (run.error || run.status !== 0)
        throw new Error(
          run.error ? String(run.error.message) : `exit ${run.status ?? run.signal}: ${run.stderr.trim()}`,
        );
      result = { ...JSON.parse(run.stdout), family: entry.family, source, overrides: entry.overrides };
      result.derived = derive(result);
      if (result.solver?.runs.some((s) => !s.skipped && !s.agrees)) broken++;
    } catch (e) {
      result = { label: entry.label, family: entry.family, overrides: entry.overrides, error: String(e.message ?? e) };
      broken++;
    }
    result.wall_s = (Date.now() - started) / 1000;
    process.stderr.write(result.error ? `FAILED (${result.error})\n` : `${result.wall_s.toFixed(1)} s\n`);
    results.push(result);
  }
  info.load_average_end = os.loadavg();
  const report = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: info,
    results,
    targets: verdicts(results),
  };
  const base = join('bench', quick ? 'results.quick' : 'results');
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  const table = markdown(report);
  writeFileSync(`${base}.md`, table);
  process.stdout.write(table);
  if (broken > 0) {
    process.stderr.write(`bench: ${broken} model(s) failed or disagreed with a sparse solver — see above\n`);
    process.exitCode = 1;
  }
}

main();
