// The distribution figures of issue 13, through the real addon: two-locus n = 8 (200
// grid points of the time's CDF and density at ε = 1e-10, once the run is cached, and
// at new parameter vectors) and rabbits N = 200. Prints the medians, the method's step
// counts and the targets met or missed, and writes bench/results.distribution.json.
// Like bench/run.mjs it never fails on a timing.
//
//   node bench/distribution.mjs [--reps N]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const reps = Number(args[args.indexOf('--reps') + 1] ?? 0) || 7;
const COMPILER = join('out', 'bench', 'compile.js');
const MODELS = join('out', 'bench', 'models');
const ADDON = resolve('native', 'build', 'Release', 'phasic_engine.node');

const CASES = [
  {
    label: 'two-locus n=8',
    file: 'examples/two_locus.phasic',
    overrides: { n: 8 },
    reward: 'time',
    targetMs: 100,
    // New parameter vectors: rec and coal moved away from the run's defaults.
    fresh: (i) => ({ rec: 0.5 + 0.37 * (i + 1), coal: 1 + 0.05 * i }),
  },
  {
    label: 'rabbits N=200',
    file: 'examples/rabbits.phasic',
    overrides: { N: 200 },
    reward: 'time',
    targetMs: 1000,
    fresh: (i) => ({ jump: 1 + 0.1 * (i + 1) }),
  },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  if (!existsSync(COMPILER)) throw new Error(`${COMPILER} is missing: run \`node esbuild.mjs\` first`);
  const addon = createRequire(ADDON)(ADDON);
  addon.configure({ cacheDir: '', memoryCacheBytes: 1 << 30 });
  mkdirSync(MODELS, { recursive: true });
  const results = [];
  let id = 1;
  for (const c of CASES) {
    const target = join(MODELS, `${c.label.replace(/[^A-Za-z0-9=-]+/g, '_')}.dist.json`);
    const overrides = Object.entries(c.overrides).map(([k, v]) => `${k}=${v}`);
    execFileSync(process.execPath, [COMPILER, c.file, target, ...overrides], { stdio: 'inherit' });
    const text = readFileSync(target, 'utf8');
    const run = JSON.parse(await addon.run(id++, text, { maxStates: 10_000_000 }));
    const params = Object.keys(run.params);
    const ask = async (p) => {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const r = JSON.parse(
        await addon.distribution(id++, run.traceKey, { reward: c.reward, params: p, gridPoints: 200, epsilon: 1e-10 }),
      );
      const used = process.cpuUsage(cpu);
      return { wall: performance.now() - started, cpu: (used.user + used.system) / 1000, r };
    };
    await ask({}); // warm-up
    const cached = [];
    for (let i = 0; i < reps; i++) cached.push(await ask({}));
    const moved = [];
    for (let i = 0; i < reps; i++) {
      const p = Object.fromEntries(Object.entries(c.fresh(i)).filter(([k]) => params.includes(k)));
      moved.push(await ask(p));
    }
    const summary = (list) => ({
      wall_ms: median(list.map((x) => x.wall)),
      // CPU time of the process over the call: less disturbed by other load than wall time.
      cpu_ms: median(list.map((x) => x.cpu)),
      total_ms: median(list.map((x) => x.r.timingsMs.total)),
      transform_ms: median(list.map((x) => x.r.timingsMs.transform)),
      uniformize_ms: median(list.map((x) => x.r.timingsMs.uniformize)),
      quantiles_ms: median(list.map((x) => x.r.timingsMs.quantiles)),
      steps: median(list.map((x) => x.r.method.steps)),
      rate: median(list.map((x) => x.r.method.rate)),
      states: list[0].r.method.states,
      q999: median(list.map((x) => x.r.times.at(-1))),
    });
    const result = {
      label: c.label,
      vertices: run.vertices,
      edges: run.edges,
      target_ms: c.targetMs,
      cached: summary(cached),
      new_params: summary(moved),
    };
    result.met = result.cached.wall_ms <= c.targetMs && result.new_params.wall_ms <= c.targetMs;
    results.push(result);
    for (const [what, s] of [
      ['cached run', result.cached],
      ['new parameters', result.new_params],
    ])
      console.log(
        `${c.label} (${run.vertices} vertices, ${run.edges} edges), ${what}: ${s.wall_ms.toFixed(1)} ms ` +
          `(CPU ${s.cpu_ms.toFixed(1)} ms) ` +
          `(transform ${s.transform_ms.toFixed(1)}, uniformize ${s.uniformize_ms.toFixed(1)}, quantiles ` +
          `${s.quantiles_ms.toFixed(1)}), Λ = ${s.rate.toPrecision(4)}, ${s.steps} steps, ${s.states} states, ` +
          `99.9% quantile ${s.q999.toPrecision(4)} — target ≤ ${c.targetMs} ms ${s.wall_ms <= c.targetMs ? 'met' : 'MISSED'}`,
      );
  }
  const report = {
    date: new Date().toISOString(),
    machine: { nproc: os.availableParallelism(), load_average: os.loadavg(), node: process.version },
    reps,
    results,
  };
  writeFileSync(join('bench', 'results.distribution.json'), `${JSON.stringify(report, null, 2)}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
