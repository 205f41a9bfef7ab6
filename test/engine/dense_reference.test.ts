// Higher moments of the larger cyclic example models against an independent dense
// solve. The graph comes from the real CLI (`export --format phasic-json`), the
// rewards are written here from each model's source as functions of the state, and
// E[R^k] = k!·α·(U·diag(r))^k·1 with U = (−T)⁻¹ (docs/engine.md) is computed by a
// dense LU with partial pivoting and iterative refinement written in this file: no
// elimination order, no trace, no SCC decomposition. The engine's moments 1..3,
// variances and covariances, from a fresh recording and from its disk cache, must
// agree to 1e-9 relative. The addon's paths that other tests only compare with each
// other (memory cache, disk cache, re-evaluation of a cached trace at new parameters)
// are held to the same reference.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Engine } from '../../extension/engine/engine';
import type { RunResult } from '../../extension/protocol/engine';
import type { Moment } from '../../extension/protocol/moment';
import { assertClose, assertOnlyCachesHoldMemory, CLI, compiledModel, ROOT, tempDir } from './helpers';

const EXAMPLES = join(ROOT, 'examples');
const REL = 1e-9;

type State = number[];
type Reward = (s: State) => number;

interface PhasicGraph {
  states: number[][];
  edges: number[][];
  constant_edges?: number[][];
  start_edges: number[][];
  param_edges: number[][];
  param_length: number;
  n_vertices: number;
}

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.equal(r.status, 0, `phasic-trace ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const settings = (set: Record<string, number>) => Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]);

// ---- the dense reference ----

/** LU factors of a dense n×n matrix with partial pivoting (row-major, in place). */
class DenseLU {
  private readonly lu: Float64Array;
  private readonly pivot: Int32Array;

  constructor(
    private readonly a: Float64Array,
    private readonly n: number,
  ) {
    const lu = Float64Array.from(a);
    const pivot = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      let p = k;
      for (let i = k + 1; i < n; i++) if (Math.abs(lu[i * n + k]) > Math.abs(lu[p * n + k])) p = i;
      assert.ok(lu[p * n + k] !== 0, 'the sub-generator is singular: some state never reaches absorption');
      pivot[k] = p;
      if (p !== k) {
        for (let j = 0; j < n; j++) {
          const t = lu[k * n + j];
          lu[k * n + j] = lu[p * n + j];
          lu[p * n + j] = t;
        }
      }
      const d = lu[k * n + k];
      for (let i = k + 1; i < n; i++) {
        lu[i * n + k] /= d;
        const m = lu[i * n + k];
        if (m === 0) continue;
        for (let j = k + 1; j < n; j++) lu[i * n + j] -= m * lu[k * n + j];
      }
    }
    this.lu = lu;
    this.pivot = pivot;
  }

  private once(b: Float64Array): Float64Array {
    const { lu, n } = this;
    const x = Float64Array.from(b);
    for (let k = 0; k < n; k++) {
      const p = this.pivot[k];
      if (p !== k) [x[k], x[p]] = [x[p], x[k]];
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) x[i] -= lu[i * n + j] * x[j];
    for (let i = n - 1; i >= 0; i--) {
      for (let j = i + 1; j < n; j++) x[i] -= lu[i * n + j] * x[j];
      x[i] /= lu[i * n + i];
    }
    return x;
  }

  /** x with A·x = b, refined twice against the residual of the original matrix. */
  solve(b: Float64Array): Float64Array {
    const { a, n } = this;
    const x = this.once(b);
    for (let round = 0; round < 2; round++) {
      const r = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = b[i];
        for (let j = 0; j < n; j++) s -= a[i * n + j] * x[j];
        r[i] = s;
      }
      const dx = this.once(r);
      for (let i = 0; i < n; i++) x[i] += dx[i];
    }
    return x;
  }
}

/** The transient part of an exported graph at θ: α, −T (factored) and the states. */
class Chain {
  readonly states: State[];
  readonly alpha: Float64Array;
  private readonly lu: DenseLU;

  constructor(g: PhasicGraph, theta: number[]) {
    assert.equal(g.param_length, theta.length, 'one value per exported parameter');
    const rate = new Map<number, Map<number, number>>();
    const add = (from: number, to: number, w: number) => {
      if (w === 0 || from === to) return;
      const row = rate.get(from) ?? new Map<number, number>();
      row.set(to, (row.get(to) ?? 0) + w);
      rate.set(from, row);
    };
    for (const [from, to, w] of [...g.edges, ...(g.constant_edges ?? [])]) add(from, to, w);
    for (const [from, to, ...c] of g.param_edges)
      add(
        from,
        to,
        c.reduce((s, ci, i) => s + ci * theta[i], 0),
      );
    // Transient: a state with a positive out-rate; the others absorb.
    const transient = [...rate.keys()]
      .filter((u) => u !== 0 && [...rate.get(u)!.values()].some((w) => w > 0))
      .sort((x, y) => x - y);
    const index = new Map(transient.map((u, i) => [u, i]));
    const n = transient.length;
    const a = new Float64Array(n * n);
    for (const u of transient) {
      const i = index.get(u)!;
      for (const [z, w] of rate.get(u)!) {
        a[i * n + i] += w;
        const j = index.get(z);
        if (j !== undefined) a[i * n + j] -= w;
      }
    }
    this.alpha = new Float64Array(n);
    for (const [to, w] of g.start_edges) {
      const i = index.get(to);
      if (i !== undefined) this.alpha[i] += w;
    }
    this.states = transient.map((u) => g.states[u]);
    this.lu = new DenseLU(a, n);
  }

  private dot(x: Float64Array): number {
    return this.alpha.reduce((s, ai, i) => s + ai * x[i], 0);
  }

  /** x_k = U·(r ∘ x_{k−1}), x_0 = 1: E[R^k] = k!·α·x_k. */
  private powers(r: Reward, order: number): Float64Array[] {
    const rv = Float64Array.from(this.states, r);
    const xs: Float64Array[] = [];
    let x: Float64Array = new Float64Array(rv.length).fill(1);
    for (let k = 1; k <= order; k++) {
      x = this.lu.solve(rv.map((ri, i) => ri * x[i]));
      xs.push(x);
    }
    return xs;
  }

  moments(r: Reward, order: number): number[] {
    let factorial = 1;
    return this.powers(r, order).map((x, k) => {
      factorial *= k + 1;
      return factorial * this.dot(x);
    });
  }

  /** Cov(R1, R2) with E[R1·R2] = α·U·(r1 ∘ U r2) + α·U·(r2 ∘ U r1). */
  covariance(r1: Reward, r2: Reward): { cov: number; cross: number } {
    const [u1] = this.powers(r1, 1);
    const [u2] = this.powers(r2, 1);
    const v1 = Float64Array.from(this.states, r1);
    const v2 = Float64Array.from(this.states, r2);
    const cross =
      this.dot(this.lu.solve(v1.map((x, i) => x * u2[i]))) + this.dot(this.lu.solve(v2.map((x, i) => x * u1[i])));
    return { cov: cross - this.dot(u1) * this.dot(u2), cross };
  }
}

// ---- the models: constants, parameters in declaration order, rewards from the source ----

interface Case {
  file: string;
  set: Record<string, number>;
  /** Parameter points, each in the model's declaration order. */
  params: Array<Record<string, number>>;
  rewards: Record<string, Reward>;
  covariances: Array<[string, string]>;
  /** An independent count of the model's vertices (with S), where one is known. */
  vertices?: number;
}

const one: Reward = () => 1;

const twoLocus = (n: number, vertices: number): Case => ({
  file: 'two_locus.phasic',
  set: { n },
  params: [
    { coal: 1, rec: 1 },
    { coal: 2, rec: 0.25 },
    { coal: 0.5, rec: 7 },
  ],
  rewards: {
    time: one,
    tmrca: one,
  },
  covariances: [['time', 'tmrca']],
  // The bipartite partitions of (n, n) (OEIS A002774), plus S.
  vertices,
});

const CASES: Case[] = [
  twoLocus(3, 32),
  twoLocus(4, 110),
  twoLocus(5, 340),
  {
    file: 'structured.phasic',
    set: { n: 4, d: 2 },
    params: [
      { coal: 1, mig: 0.5 },
      { coal: 3, mig: 0.01 },
    ],
    rewards: { time: one, tmrca: one },
    covariances: [],
  },
  {
    file: 'structured.phasic',
    set: { n: 8, d: 3 },
    params: [
      { coal: 1, mig: 0.5 },
      { coal: 0.2, mig: 4 },
    ],
    rewards: { time: one, tmrca: one },
    covariances: [],
  },
  {
    file: 'rabbits.phasic',
    set: { N: 5 },
    params: [
      { jump: 1, flood_l: 2, flood_r: 4 },
      { jump: 10, flood_l: 0.1, flood_r: 0.3 },
    ],
    rewards: { time: one, time_to_extinction: one },
    covariances: [],
    vertices: (6 * 7) / 2 + 1,
  },
  {
    file: 'rabbits.phasic',
    set: { N: 20 },
    params: [
      { jump: 1, flood_l: 2, flood_r: 4 },
      { jump: 0.3, flood_l: 1, flood_r: 0.05 },
    ],
    rewards: { time: one, time_to_extinction: one },
    covariances: [],
    vertices: (21 * 22) / 2 + 1,
  },
  {
    // M/M/c/K with c = 2, K = 5, started full; absorbed when empty.
    file: 'queue.phasic',
    set: {},
    params: [
      { arrival: 1, service: 1 },
      { arrival: 3, service: 0.7 },
    ],
    rewards: {
      time: one,
      time_to_empty: one,
      customer_time: ([q]) => q,
      time_full: ([q]) => (q === 5 ? 1 : 0),
      'busy_servers[1]': ([q]) => (Math.min(q, 2) >= 1 ? 1 : 0),
      'busy_servers[2]': ([q]) => (Math.min(q, 2) >= 2 ? 1 : 0),
    },
    covariances: [
      ['time_to_empty', 'customer_time'],
      ['busy_servers[1]', 'time_full'],
    ],
  },
  {
    file: 'two_deme_sampling.phasic',
    set: { d: 3 },
    params: [
      { coal: 1, mig: 0.5 },
      { coal: 2, mig: 0.1 },
    ],
    rewards: {
      time: one,
      tmrca: one,
      'lineages_in[0]': (x) => x[0],
      'lineages_in[1]': (x) => x[1],
      'lineages_in[2]': (x) => x[2],
      apart: (x) => (x.filter((c) => c >= 1).length >= 2 ? 1 : 0),
    },
    covariances: [
      ['tmrca', 'apart'],
      ['lineages_in[0]', 'lineages_in[2]'],
    ],
  },
];

// ---- the solver, against the published reference values ----

describe('the dense reference solver', () => {
  const chainOf = (file: string, set: Record<string, number>, theta: number[]) =>
    new Chain(JSON.parse(cli(['export', join(EXAMPLES, file), '--format', 'phasic-json', ...settings(set)])), theta);

  // The numbers of the models' reference table (closed forms and an earlier,
  // separate dense computation), copied here.
  it('reproduces the reference values of kingman, structured and rabbits', () => {
    const kingman = chainOf('kingman.phasic', { n: 4 }, [1]);
    kingman
      .moments(one, 3)
      .forEach((m, k) => assertClose(m, [1.5, 3.388888888888889, 10.583333333333332][k], REL, `kingman E[T^${k + 1}]`));
    assertClose(kingman.moments(([k]) => k, 1)[0], 3.6666666666666665, REL, 'kingman E[L]');
    const structured = chainOf('structured.phasic', { n: 2, d: 2 }, [1, 0.5]);
    structured.moments(one, 2).forEach((m, k) => assertClose(m, [2, 10][k], REL, `structured E[T^${k + 1}]`));
    assertClose(
      chainOf('rabbits.phasic', { N: 2 }, [1, 2, 4]).moments(one, 1)[0],
      0.5038265306122449,
      REL,
      'rabbits N=2',
    );
    assertClose(
      chainOf('rabbits.phasic', { N: 20 }, [1, 2, 4]).moments(one, 1)[0],
      0.536563856863072,
      REL,
      'rabbits N=20',
    );
    assertClose(chainOf('two_locus.phasic', { n: 3 }, [1, 1]).moments(one, 1)[0], 1.832574, 1e-6, 'two_locus n=3');
  });

  it('gives Var[T] of a single exponential and E[T] = d of the structured coalescent at any migration rate', () => {
    // Two lineages in one deme: E[T] = d whatever mig (Strobeck), here d = 3.
    for (const mig of [0.01, 1, 50])
      assertClose(chainOf('structured.phasic', { n: 2, d: 3 }, [1, mig]).moments(one, 1)[0], 3, 1e-10, `mig ${mig}`);
    // Kingman n = 2: T ~ Exp(θ), E[T^k] = k!/θ^k.
    const exp = chainOf('kingman.phasic', { n: 2 }, [2]).moments(one, 3);
    exp.forEach((m, k) => assertClose(m, [0.5, 0.5, 0.75][k], 1e-14, `Exp(2) moment ${k + 1}`));
  });
});

// ---- the engine against it ----

describe('moments 1..3 of the larger cyclic models against a dense solve', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  for (const c of CASES) {
    const label = `${c.file} ${Object.entries(c.set)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`.trim();
    it(`${label}: every reward, fresh and from the disk cache, at ${c.params.length} parameter points`, () => {
      const model = join(EXAMPLES, c.file);
      const graph: PhasicGraph = JSON.parse(cli(['export', model, '--format', 'phasic-json', ...settings(c.set)]));
      if (c.vertices !== undefined)
        assert.equal(graph.n_vertices, c.vertices, 'vertices against the closed-form count');
      const cache = tempDir('dense');
      dirs.push(cache);
      let cyclic = false;
      for (const [p, params] of c.params.entries()) {
        const chain = new Chain(graph, Object.values(params));
        const args = [
          'run',
          model,
          ...settings(c.set),
          ...Object.entries(params).flatMap(([k, v]) => ['--param', `${k}=${v}`]),
          '--moments',
          '3',
          ...c.covariances.flatMap(([a, b]) => ['--covariance', `${a},${b}`]),
          '--cache-dir',
          cache,
          '--json',
        ];
        // First a recording (the first point) or a run on recorded blocks, then the
        // same run in a new process that finds every block in the disk cache.
        const fresh = JSON.parse(cli(args));
        const disk = JSON.parse(cli(args));
        assert.equal(disk.sccs.recorded, 0, 'the second process loads every block from disk');
        assert.deepEqual(
          Object.keys(fresh.params),
          Object.keys(params),
          "parameters in declaration order (the export's columns)",
        );
        assert.deepEqual(
          Object.keys(fresh.moments).sort(),
          Object.keys(c.rewards).sort(),
          "the rewards written here are the model's",
        );
        cyclic ||= fresh.sccs.largest > 1;
        for (const [name, reward] of Object.entries(c.rewards)) {
          const reference = chain.moments(reward, 3);
          const variance = reference[1] - reference[0] ** 2;
          for (const [source, run] of [
            ['fresh', fresh],
            ['disk', disk],
          ] as const) {
            const what = `${label}, point ${p}, ${name} (${source})`;
            reference.forEach((m, k) => assertClose(run.moments[name][k], m, REL, `${what}: E[R^${k + 1}]`));
            // A difference of moments: compared on the scale of E[R^2].
            assert.ok(
              Math.abs(run.variance[name] - variance) <= REL * reference[1],
              `${what}: variance ${run.variance[name]} vs ${variance}`,
            );
          }
        }
        for (const [a, b] of c.covariances) {
          const { cov, cross } = chain.covariance(c.rewards[a], c.rewards[b]);
          for (const run of [fresh, disk]) {
            const got = run.covariance[`${a},${b}`];
            assert.ok(
              Math.abs(got - cov) <= REL * Math.abs(cross),
              `${label}, point ${p}: Cov(${a}, ${b}) ${got} vs ${cov}`,
            );
          }
        }
      }
      assert.ok(cyclic, `${label} has a cyclic block (else it does not belong in this test)`);
    });
  }
});

// engine.test.ts checks that the memory cache, the disk cache and re-evaluation give
// the same numbers as a fresh run; here all of them meet the dense solve, through the
// addon, on the engine fixtures those tests use.
describe("the addon's cached and re-evaluated moments against a dense solve", () => {
  const cacheDir = tempDir('dense-addon');
  const otherDir = tempDir('dense-addon-other');
  const engine = new Engine();
  engine.configure({ cacheDir, maxDiskBytes: 64 * 1024 * 1024, memoryBudgetBytes: 4096 * 1024 * 1024 });
  after(async () => {
    await engine.clearCaches();
    for (const d of [cacheDir, otherDir]) rmSync(d, { recursive: true, force: true });
  });
  const exported = (file: string, set: Record<string, number>): PhasicGraph =>
    JSON.parse(cli(['export', join(EXAMPLES, file), '--format', 'phasic-json', ...settings(set)]));
  const assertMoments = (got: Record<string, Moment[]>, chain: Chain, what: string) => {
    for (const name of ['time', 'tmrca']) {
      chain.moments(one, 3).forEach((m, k) => assertClose(got[name][k], m, REL, `${what}: ${name} E[T^${k + 1}]`));
    }
  };

  it('structured n=8 d=3: fresh, from the memory cache and from the disk cache', async () => {
    const chain = new Chain(exported('structured.phasic', { n: 8, d: 3 }), [1, 0.5]);
    const model = compiledModel('structured_n8_d3');
    const options = { moments: 3, covariances: [['time', 'tmrca']] as Array<[string, string]> };
    const fresh = await engine.run(model, options);
    assert.ok(fresh.sccs.recorded > 0, 'the first run records');
    const memory = await engine.run(model, options);
    assert.equal(memory.reused, true);
    // Empty the memory cache, keep the files.
    engine.configure({ cacheDir: otherDir });
    await engine.clearCaches();
    engine.configure({ cacheDir });
    const disk = await engine.run(model, options);
    assert.ok(
      disk.decomposition.sccs.some((s) => s.source === 'disk'),
      'blocks come from the disk cache',
    );
    const [, second] = chain.moments(one, 2);
    const variance = second - chain.moments(one, 1)[0] ** 2;
    for (const [source, r] of [
      ['fresh', fresh],
      ['memory', memory],
      ['disk', disk],
    ] as Array<[string, RunResult]>) {
      assertMoments(r.moments, chain, `structured n=8 d=3 (${source})`);
      assert.ok(
        Math.abs(Number(r.covariance['time,tmrca']) - variance) <= REL * second,
        `${source}: Cov(time, tmrca) = Var[T]`,
      );
    }
    assertOnlyCachesHoldMemory(engine);
  });

  it('two_locus n=5: a cached trace re-evaluated at new parameters, one at a time and as a grid', async () => {
    const graph = exported('two_locus.phasic', { n: 5 });
    const base = await engine.run(compiledModel('two_locus'), { moments: 3 });
    assertMoments(base.moments, new Chain(graph, [1, 1]), 'two_locus n=5 at coal=1, rec=1');
    const at = { coal: 2, rec: 0.25 };
    const evaluated = await engine.evaluate(base.traceKey, at, 3);
    assertMoments(
      evaluated.moments,
      new Chain(graph, [at.coal, at.rec]),
      'two_locus n=5 re-evaluated at coal=2, rec=0.25',
    );
    const grid = [0, 0.5, 3, 40].map((rec) => ({ coal: 1.5, rec }));
    const many = await engine.evaluateMany(base.traceKey, grid, 3);
    grid.forEach((p, i) =>
      assertMoments(many[i].moments, new Chain(graph, [p.coal, p.rec]), `two_locus n=5 grid at rec=${p.rec}`),
    );
    assertOnlyCachesHoldMemory(engine);
  });
});
