// Exact gradients of moments, variances and covariances (docs/engine.md, "Gradients") through the
// real addon and the real CLI. Each derivative is checked against a number computed
// here without the engine's gradient: central differences of the engine's own
// moments at θ ± h (Richardson-extrapolated, so the difference is accurate far below
// the 1e-6 tolerance), or a closed form. Graphs are random cyclic phasic graphs with
// several parameters (seeded), and the example models whose moments have closed forms.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Engine } from '../../extension/engine/engine';
import type { EvaluateResult, Moment } from '../../extension/protocol/engine';
import { compileModel } from '../../extension/language';
import { random } from '../random';
import { type PhasicGraph, solve } from './dense';
import { assertOnlyCachesHoldMemory, CLI, compiledModel, ROOT, tempDir } from './helpers';
import { mixture } from './mixture';

const REL = 1e-6;
const K = 3;

const cacheDir = tempDir('gradient-cache');
const engine = new Engine();
engine.configure({ cacheDir });
after(() => rmSync(cacheDir, { recursive: true, force: true }));

/**
 * A random graph whose states 1..n form a chain to the absorbing state n+1 (so
 * absorption is certain at every θ > 0) with random extra edges, many of them
 * backwards: large cycles, so several states share one block. Each rate is a random
 * non-negative combination of P parameters, some edges have a constant part.
 */
function randomGraph(seed: number, n: number, P: number): PhasicGraph {
  const rand = random(seed);
  const int = (k: number) => Math.floor(rand() * k);
  const coefficients = (required: boolean) => {
    const c = Array.from({ length: P }, (): number => (rand() < 0.5 ? 0.2 + 1.5 * rand() : 0));
    if (required && !c.some((x) => x > 0)) c[int(P)] = 0.5 + rand();
    return c;
  };
  const absorbing = n + 1;
  const param_edges: number[][] = [];
  const edges: number[][] = [];
  for (let v = 1; v <= n; v++) {
    const targets = new Set<number>([v + 1]);
    param_edges.push([v, v + 1, ...coefficients(true)]);
    for (let e = 0; e < 2; e++) {
      const t = rand() < 0.6 ? 1 + int(v) : 1 + int(absorbing);
      if (t === v || targets.has(t)) continue;
      targets.add(t);
      if (rand() < 0.25) edges.push([v, t, 0.1 + rand()]);
      else param_edges.push([v, t, ...coefficients(true)]);
    }
  }
  const second = 1 + int(n);
  return {
    states: [[0, 0], ...Array.from({ length: n }, () => [int(4), int(3)]), [0, 0]],
    n_vertices: n + 2,
    state_length: 2,
    param_length: P,
    edges,
    start_edges:
      second === 1
        ? [[1, 1]]
        : [
            [1, 0.7],
            [second, 0.3],
          ],
    param_edges,
  };
}

const names = (P: number) => Array.from({ length: P }, (_, j) => `p${j + 1}`);

/**
 * Covariances asked for with the random graphs (rewards time, s0, s1 of a phasic
 * graph with two state variables): of two rewards, of a reward with itself (the
 * variance, by another path) and of the time with a reward.
 */
const PAIRS: Array<[string, string]> = [
  ['s0', 's1'],
  ['s1', 's1'],
  ['time', 's0'],
];

/** What the derivative of each moment, variance and covariance should be, from the engine's values alone. */
interface Differences {
  moments: Record<string, Record<string, number[]>>;
  variance: Record<string, Record<string, number>>;
  /** By "A,B" as the covariance member, by parameter. */
  covariance: Record<string, Record<string, number>>;
  /** The natural size of each derivative, |E[R^k]|/θ_j, for derivatives near 0. */
  scale: Record<string, Record<string, number[]>>;
  /** Of each covariance's derivative: √(E[A²]·E[B²])/θ_j. */
  covarianceScale: Record<string, Record<string, number>>;
}

const num = (m: Moment) => {
  assert.equal(typeof m, 'number', `a finite moment was expected, got ${m}`);
  return m as number;
};

/**
 * Central differences with h and h/2, combined (Richardson) to cancel the h² error:
 * D = (4·D(h/2) − D(h))/3. h is 1e-3 of θ_j (or 1e-3 when θ_j is 0, then one-sided:
 * D = (−3f(0) + 4f(h) − f(2h))/(2h), also combined over h and h/2).
 */
async function differences(
  traceKey: string,
  theta: Record<string, number>,
  pairs: Array<[string, string]> = [],
): Promise<Differences> {
  const params = Object.keys(theta);
  const sets: Array<Record<string, number>> = [theta];
  const steps = params.map((p) => (theta[p] > 0 ? 1e-3 * theta[p] : 1e-3));
  params.forEach((p, j) => {
    const h = steps[j];
    const offsets = theta[p] > 0 ? [h, -h, h / 2, -h / 2] : [h, 2 * h, h / 2, h];
    for (const o of offsets) sets.push({ ...theta, [p]: theta[p] + o });
  });
  const results = await engine.evaluateMany(traceKey, sets, K, pairs);
  const base = results[0];
  const out: Differences = { moments: {}, variance: {}, covariance: {}, scale: {}, covarianceScale: {} };
  const derivativeBy = (p: string, j: number, f: (r: EvaluateResult) => number) => {
    const h = steps[j];
    const [a, b, c, d] = results.slice(1 + 4 * j, 5 + 4 * j);
    if (theta[p] > 0) {
      const coarse = (f(a) - f(b)) / (2 * h);
      const fine = (f(c) - f(d)) / h;
      return (4 * fine - coarse) / 3;
    }
    const f0 = f(base);
    const coarse = (-3 * f0 + 4 * f(a) - f(b)) / (2 * h);
    const fine = (-3 * f0 + 4 * f(c) - f(d)) / h;
    return (4 * fine - coarse) / 3;
  };
  for (const [first, second] of pairs) {
    const key = `${first},${second}`;
    out.covariance[key] = {};
    out.covarianceScale[key] = {};
    params.forEach((p, j) => {
      out.covariance[key][p] = derivativeBy(p, j, (r) => num(r.covariance[key]));
      const size = Math.max(theta[p], 1e-3);
      out.covarianceScale[key][p] = Math.sqrt(num(base.moments[first][1]) * num(base.moments[second][1])) / size;
    });
  }
  for (const reward of Object.keys(base.moments)) {
    out.moments[reward] = {};
    out.variance[reward] = {};
    out.scale[reward] = {};
    params.forEach((p, j) => {
      const derivative = (f: (r: EvaluateResult) => number) => derivativeBy(p, j, f);
      out.moments[reward][p] = Array.from({ length: K }, (_, k) => derivative((r) => num(r.moments[reward][k])));
      out.variance[reward][p] = derivative((r) => num(r.variance[reward]));
      const size = Math.max(theta[p], 1e-3);
      out.scale[reward][p] = Array.from({ length: K }, (_, k) => Math.abs(num(base.moments[reward][k])) / size);
    });
  }
  return out;
}

/** |actual − expected| ≤ REL · max(|expected|, 1e-3 · the derivative's natural size). */
function assertDerivative(actual: Moment | undefined, expected: number, scale: number, what: string): void {
  assert.equal(typeof actual, 'number', `${what}: ${actual} should be a finite number`);
  const a = actual as number;
  const tolerance = REL * Math.max(Math.abs(expected), 1e-3 * scale);
  assert.ok(Math.abs(a - expected) <= tolerance, `${what}: ${a} differs from ${expected} by more than ${tolerance}`);
}

type Gradients = Pick<EvaluateResult, 'gradient' | 'gradientVariance' | 'gradientCovariance'>;

function assertMatches(g: Gradients, d: Differences, what: string): void {
  assert.ok(g.gradient && g.gradientVariance && g.gradientCovariance, `${what}: no gradient reported`);
  assert.deepEqual(Object.keys(g.gradientCovariance), Object.keys(d.covariance), `${what}: covariances`);
  for (const [pair, byParam] of Object.entries(d.covariance))
    for (const [p, expected] of Object.entries(byParam))
      assertDerivative(
        g.gradientCovariance[pair]?.[p],
        expected,
        d.covarianceScale[pair][p],
        `${what}: dCov(${pair})/d${p}`,
      );
  for (const [reward, byParam] of Object.entries(d.moments))
    for (const [p, expected] of Object.entries(byParam)) {
      const actual: Moment[] | undefined = g.gradient[reward]?.[p];
      assert.equal(actual?.length, K, `${what}: d/d${p} of ${reward} has ${actual?.length} moments`);
      expected.forEach((e, k) =>
        assertDerivative(actual[k], e, d.scale[reward][p][k], `${what}: dE[${reward}^${k + 1}]/d${p}`),
      );
      assertDerivative(
        g.gradientVariance[reward]?.[p],
        d.variance[reward][p],
        d.scale[reward][p][1],
        `${what}: dVar(${reward})/d${p}`,
      );
    }
}

function cliJson(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `phasic-trace ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('gradients against central differences', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`random cyclic graph, seed ${seed}: every moment, variance and parameter`, async () => {
      const P = 2 + (seed % 3);
      const graph = randomGraph(seed, 12 + 6 * seed, P);
      const rand = random(1000 + seed);
      const theta = Object.fromEntries(names(P).map((p) => [p, 0.3 + 2 * rand()]));
      const r = await engine.run(JSON.stringify(graph), {
        params: theta,
        moments: K,
        minSccSize: 3,
        gradient: true,
        covariances: PAIRS,
      });
      assert.ok(r.sccs.largest >= 3, `seed ${seed}: the graph should have a cycle of several states`);
      assert.ok(r.timingsMs.gradient !== undefined);
      assertMatches(r, await differences(r.traceKey, theta, PAIRS), `seed ${seed}`);
      // A cached trace evaluated again at other parameters, with the gradient.
      const other = Object.fromEntries(names(P).map((p) => [p, 0.3 + 2 * rand()]));
      const [again] = await engine.evaluateMany(r.traceKey, [other], K, PAIRS, true);
      assertMatches(again, await differences(r.traceKey, other, PAIRS), `seed ${seed}, evaluate`);
      assertOnlyCachesHoldMemory(engine);
    });
  }

  it('with a parameter at 0 (a one-sided derivative) where every state keeps a rate', async () => {
    // p1 = 0 removes every rate made of p1 alone; the chain edges keep a constant part,
    // so every state still leaves and the moments are smooth from the right.
    const graph = randomGraph(11, 20, 2);
    for (const e of graph.param_edges) if (e[1] === e[0] + 1) graph.edges.push([e[0], e[1], 0.5]);
    const theta = { p1: 0, p2: 1.3 };
    const r = await engine.run(JSON.stringify(graph), { params: theta, moments: K, gradient: true });
    assert.equal(r.nonFinite, undefined);
    assertMatches(r, await differences(r.traceKey, theta), 'p1 = 0');
  });

  it('on a run reused from the memory cache', async () => {
    const graph = JSON.stringify(randomGraph(21, 25, 3));
    const theta = { p1: 0.8, p2: 1.1, p3: 0.4 };
    const first = await engine.run(graph, { params: theta, moments: K });
    assert.equal(first.gradient, undefined, 'no gradient unless asked for');
    const reused = await engine.run(graph, { params: theta, moments: K, gradient: true, covariances: PAIRS });
    assert.equal(reused.reused, true);
    assertMatches(reused, await differences(reused.traceKey, theta, PAIRS), 'reused run');
    assertOnlyCachesHoldMemory(engine);
  });

  it('on blocks taken from the disk cache by a second process (the CLI)', async () => {
    const dir = tempDir('gradient-disk');
    try {
      const file = join(dir, 'graph.json');
      writeFileSync(file, JSON.stringify(randomGraph(31, 40, 3)));
      const theta = { p1: 1.2, p2: 0.6, p3: 0.9 };
      const set = Object.entries(theta).flatMap(([k, v]) => ['--param', `${k}=${v}`]);
      const args = ['run', file, '--cache-dir', join(dir, 'cache'), '--moments', String(K), '--min-scc', '3'];
      const recorded = cliJson([...args, ...set]);
      assert.ok((recorded.sccs as { recorded: number }).recorded > 0);
      const covariances = PAIRS.flatMap(([a, b]) => ['--covariance', `${a},${b}`]);
      const fromDisk = cliJson([...args, ...set, ...covariances, '--gradient']);
      assert.ok((fromDisk.sccs as { cached: number }).cached > 0, 'the second process should read blocks from disk');
      assert.equal((fromDisk.sccs as { recorded: number }).recorded, 0);
      // Central differences from this process's engine, which recorded its own trace.
      const r = await engine.run(JSON.stringify(randomGraph(31, 40, 3)), { params: theta, moments: K, minSccSize: 3 });
      assertMatches(
        {
          gradient: fromDisk.gradient as Gradients['gradient'],
          gradientVariance: fromDisk.gradient_variance as Gradients['gradientVariance'],
          gradientCovariance: fromDisk.gradient_covariance as Gradients['gradientCovariance'],
        },
        await differences(r.traceKey, theta, PAIRS),
        'disk cache',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * d Cov(R_a, R_b)/dθ_p by dense linear algebra, from the definitions: with M = −S
 * over the transient states 1..n, U = M⁻¹, dU = −U (dM) U, and
 * Cov = α U(a ∘ U b) + α U(b ∘ U a) − (α U a)(α U b), each term differentiated by the
 * product rule. Shares nothing with the engine but the graph.
 */
function denseCovariance(g: PhasicGraph, theta: number[], a: number[], b: number[]) {
  const n = g.n_vertices - 2; // transient states 1..n; 0 is the start, n+1 absorbs
  const M = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const dM = theta.map(() => Array.from({ length: n }, () => new Array<number>(n).fill(0)));
  const add = (from: number, to: number, rate: number, into: number[][]) => {
    if (from === to) return; // self-loops are dropped, as the importer does
    into[from - 1][from - 1] += rate;
    if (to >= 1 && to <= n) into[from - 1][to - 1] -= rate;
  };
  for (const [from, to, w] of g.edges) add(from, to, w, M);
  for (const [from, to, ...c] of g.param_edges)
    c.forEach((cp, p) => {
      add(from, to, cp * theta[p], M);
      add(from, to, cp, dM[p]);
    });
  const alpha = new Array<number>(n).fill(0);
  for (const [to, w] of g.start_edges) alpha[to - 1] += w;
  const dot = (x: number[], y: number[]) => x.reduce((s, xi, i) => s + xi * y[i], 0);
  const times = (x: number[], y: number[]) => x.map((xi, i) => xi * y[i]);
  const apply = (A: number[][], x: number[]) => A.map((row) => dot(row, x));
  const minus = (x: number[], y: number[]) => x.map((xi, i) => xi - y[i]);
  const xa = solve(M, a);
  const xb = solve(M, b);
  const zab = solve(M, times(a, xb));
  const zba = solve(M, times(b, xa));
  const Ea = dot(alpha, xa);
  const Eb = dot(alpha, xb);
  const covariance = dot(alpha, zab) + dot(alpha, zba) - Ea * Eb;
  const derivative = dM.map((D) => {
    // d(U g) = −U (dM) (U g) for a fixed g
    const dxa = solve(M, apply(D, xa)).map((x) => -x);
    const dxb = solve(M, apply(D, xb)).map((x) => -x);
    const dzab = minus(solve(M, times(a, dxb)), solve(M, apply(D, zab)));
    const dzba = minus(solve(M, times(b, dxa)), solve(M, apply(D, zba)));
    return dot(alpha, dzab) + dot(alpha, dzba) - dot(alpha, dxa) * Eb - Ea * dot(alpha, dxb);
  });
  return { covariance, derivative };
}

describe('gradients against closed forms', () => {
  it('covariances of a random cyclic graph against dense solves of the derivative', async () => {
    const P = 3;
    const graph = randomGraph(51, 14, P);
    const theta = [0.7, 1.9, 1.2];
    const pairs: Array<[string, string]> = [
      ['time', 's1'],
      ['s0', 's1'],
      ['s0', 's0'],
    ];
    const r = await engine.run(JSON.stringify(graph), {
      params: Object.fromEntries(names(P).map((p, j) => [p, theta[j]])),
      moments: 2,
      minSccSize: 3,
      covariances: pairs,
      gradient: true,
    });
    assert.ok(r.sccs.largest >= 3);
    const transient = graph.states.slice(1, -1);
    const reward = (name: string) =>
      name === 'time' ? transient.map(() => 1) : transient.map((s) => s[Number(name.slice(1))]);
    for (const [a, b] of pairs) {
      const dense = denseCovariance(graph, theta, reward(a), reward(b));
      const key = `${a},${b}`;
      const close = (actual: Moment | undefined, expected: number, what: string) =>
        assert.ok(
          typeof actual === 'number' && Math.abs(actual - expected) <= 1e-9 * Math.max(Math.abs(expected), 1e-3),
          `${what}: ${actual} should be ${expected}`,
        );
      close(r.covariance[key], dense.covariance, `Cov(${key})`);
      names(P).forEach((p, j) => close(r.gradientCovariance?.[key]?.[p], dense.derivative[j], `dCov(${key})/d${p}`));
    }
  });

  it('a chain of two exponential stages: Cov(T, T_1) = Var(T_1) = 1/θ1², so d/dθ1 = −2/θ1³ and d/dθ2 = 0', async () => {
    // State 1 (s0 = 1) leaves at rate θ1 to state 2 (s1 = 1), which is absorbed at rate θ2:
    // T = T_1 + T_2 with independent stages, R_s0 = T_1, R_s1 = T_2.
    const chain: PhasicGraph = {
      states: [
        [0, 0],
        [1, 0],
        [0, 1],
        [0, 0],
      ],
      n_vertices: 4,
      state_length: 2,
      param_length: 2,
      edges: [],
      start_edges: [[1, 1]],
      param_edges: [
        [1, 2, 1, 0],
        [2, 3, 0, 1],
      ],
    };
    const [t1, t2] = [1.7, 0.6];
    const r = await engine.run(JSON.stringify(chain), {
      params: { p1: t1, p2: t2 },
      covariances: [
        ['time', 's0'],
        ['s0', 's1'],
        ['time', 'time'],
      ],
      gradient: true,
    });
    const g = r.gradientCovariance;
    assert.ok(g);
    const close = (a: Moment | undefined, e: number, what: string) =>
      assert.ok(typeof a === 'number' && Math.abs(a - e) <= 1e-12 * Math.max(Math.abs(e), 1), `${what}: ${a} ≠ ${e}`);
    close(g['time,s0'].p1, -2 / t1 ** 3, 'dCov(T, T_1)/dθ1');
    close(g['time,s0'].p2, 0, 'dCov(T, T_1)/dθ2');
    close(g['s0,s1'].p1, 0, 'dCov(T_1, T_2)/dθ1 (independent stages)');
    close(g['s0,s1'].p2, 0, 'dCov(T_1, T_2)/dθ2');
    // Cov(T, T) = Var(T) = 1/θ1² + 1/θ2²
    close(g['time,time'].p1, -2 / t1 ** 3, 'dVar(T)/dθ1 as a covariance');
    close(g['time,time'].p2, -2 / t2 ** 3, 'dVar(T)/dθ2 as a covariance');
    close(r.gradientVariance?.time.p2, -2 / t2 ** 3, 'dVar(T)/dθ2');
  });

  it('Kingman (CLI, examples/kingman.phasic): rates ∝ θ, so E[T^k] ∝ θ^−k and dE[T^k]/dθ = −k·E[T^k]/θ', () => {
    // Every rate is θ·k(k−1)/2: time scales as 1/θ. n = 6: E[T] = 2(1 − 1/n)/θ, so
    // dE[T]/dθ = −2(1 − 1/n)/θ²; E[L] = 2·Σ_(i<n) 1/i / θ; Var scales as θ^−2.
    const theta = 2.5;
    const n = 6;
    const out = cliJson([
      'run',
      join(ROOT, 'examples', 'kingman.phasic'),
      '--set',
      `n=${n}`,
      '--param',
      `theta=${theta}`,
      '--moments',
      '3',
      '--no-cache',
      '--gradient',
    ]) as {
      moments: Record<string, number[]>;
      variance: Record<string, number>;
      gradient: Record<string, Record<string, number[]>>;
      gradient_variance: Record<string, Record<string, number>>;
    };
    const harmonic = Array.from({ length: n - 1 }, (_, i) => 1 / (i + 1)).reduce((a, b) => a + b);
    const close = (a: number, e: number, what: string) =>
      assert.ok(Math.abs(a - e) <= 1e-12 * Math.abs(e), `${what}: ${a} should be ${e}`);
    close(out.gradient.tmrca.theta[0], (-2 * (1 - 1 / n)) / theta ** 2, 'dE[T]/dθ');
    close(out.gradient.total_length.theta[0], (-2 * harmonic) / theta ** 2, 'dE[L]/dθ');
    for (const reward of ['tmrca', 'total_length']) {
      for (let k = 1; k <= 3; k++)
        close(out.gradient[reward].theta[k - 1], (-k * out.moments[reward][k - 1]) / theta, `dE[${reward}^${k}]/dθ`);
      close(out.gradient_variance[reward].theta, (-2 * out.variance[reward]) / theta, `dVar(${reward})/dθ`);
    }
  });

  it('structured n=2 d=2: E[T] = d/coal whatever mig (Strobeck), so dE[T]/dmig = 0', async () => {
    const r = await engine.run(compiledModel('structured'), { params: { coal: 1.5, mig: 0.7 }, gradient: true });
    const g = r.gradient?.tmrca;
    assert.ok(g);
    assert.ok(Math.abs((g.coal[0] as number) + 2 / 1.5 ** 2) <= 1e-12 * (2 / 1.5 ** 2), `dE[T]/dcoal = ${g.coal[0]}`);
    assert.ok(Math.abs(g.mig[0] as number) <= 1e-13, `dE[T]/dmig = ${g.mig[0]} should be 0`);
  });
});

/**
 * Derivatives of two_deme_sfs (coal = 1) by coal and mig, computed independently of the
 * engine with mpmath 1.3 at 120 digits: the graph exported by `phasic-trace export
 * examples/two_deme_sfs.phasic --format phasic-json`, rewards from its states (time = tmrca
 * = 1, xi[k] = s[0][k] + s[1][k]), the moments E[R] = α M⁻¹r, E[R²] = 2α M⁻¹(r ∘ M⁻¹r) and
 * the cross moment solved exactly (M's blocks: the states with the same lineages, inverted
 * densely, lineage count ascending), and each derivative a central difference at
 * θ_j·(1 ± 1e-30) (its error ≈ 1e-60 relative). Per reward and parameter
 * [dE[R], dE[R²], dVar[R]]; the covariance's [dCov].
 */
const TWO_DEME_REFERENCE: Record<'1e-20' | '1e-12', Record<string, Record<'coal' | 'mig', number[]>>> = {
  '1e-20': {
    time: { coal: [-3.6, -4.6e20, -1e20], mig: [-5e39, -1e60, -5e59] },
    tmrca: { coal: [-3.6, -4.6e20, -1e20], mig: [-5e39, -1e60, -5e59] },
    'xi[0]': { coal: [-4.5, -5e19, -5e19], mig: [-0.4166666666666667, -5e39, -5e39] },
    'xi[1]': {
      coal: [-2.6666666666666665, -6.666666666666666e19, -6.666666666666666e19],
      mig: [-1.1262626262626263, -6.666666666666666e39, -6.666666666666666e39],
    },
    'xi[2]': { coal: [-2.3333333333333335, -1e20, -1e20], mig: [-2.8585858585858586, -1e40, -1e40] },
    'xi[3]': { coal: [-3.0, -2e20, -2e20], mig: [-10.106060606060606, -2e40, -2e40] },
    'xi[4]': { coal: [4.333333333333333, 4.666666666666667e20, -4e20], mig: [-1e40, -4e60, -2e60] },
    'xi[5]': { coal: [-2.0, -2e20, -2e20], mig: [-7.5606060606060606, -2e40, -2e40] },
    'xi[6]': { coal: [-1.0, -1e20, -1e20], mig: [-1.5858585858585859, -1e40, -1e40] },
    'xi[7]': {
      coal: [-0.6666666666666666, -6.666666666666666e19, -6.666666666666666e19],
      mig: [-0.4292929292929293, -6.666666666666666e39, -6.666666666666666e39],
    },
    'xi[8]': { coal: [-0.5, -5e19, -5e19], mig: [-0.08333333333333333, -5e39, -5e39] },
    'xi[1],xi[2]': { coal: [-5.015873015873016], mig: [-29.141502260722948] },
  },
  '1e-12': {
    time: {
      coal: [-3.5999999999994055, -4600000000034.844, -1000000000009.5186],
      mig: [-5e23, -1.0000000000046e36, -5.00000000001e35],
    },
    tmrca: {
      coal: [-3.5999999999994055, -4600000000034.844, -1000000000009.5186],
      mig: [-5e23, -1.0000000000046e36, -5.00000000001e35],
    },
    'xi[0]': {
      coal: [-4.499999999999167, -500000000051.1941, -500000000010.6941],
      mig: [-0.41666666666573665, -5e23, -5e23],
    },
    'xi[1]': {
      coal: [-2.666666666664414, -666666666689.1039, -666666666674.8817],
      mig: [-1.1262626262585806, -6.666666666666667e23, -6.666666666666667e23],
    },
    'xi[2]': {
      coal: [-2.3333333333276163, -1000000000014.5079, -1000000000003.619],
      mig: [-2.8585858585712525, -1e24, -1e24],
    },
    'xi[3]': {
      coal: [-2.9999999999797877, -2000000000006.0952, -1999999999988.0952],
      mig: [-10.106060605981702, -2e24, -2e24],
    },
    'xi[4]': {
      coal: [4.333333333289596, 4666666666606.627, -3999999999935.0083],
      mig: [-1e24, -3.999999999995333e36, -2.000000000004e36],
    },
    'xi[5]': {
      coal: [-1.9999999999848788, -1999999999991.342, -1999999999983.342],
      mig: [-7.56060606054155, -2e24, -2e24],
    },
    'xi[6]': {
      coal: [-0.9999999999968283, -999999999999.9192, -999999999997.9192],
      mig: [-1.585858585848483, -1e24, -1e24],
    },
    'xi[7]': {
      coal: [-0.6666666666658081, -666666666667.8904, -666666666667.0015],
      mig: [-0.42929292929064283, -6.666666666666667e23, -6.666666666666667e23],
    },
    'xi[8]': {
      coal: [-0.49999999999983336, -500000000001.4437, -500000000000.9437],
      mig: [-0.08333333333298557, -5e23, -5e23],
    },
    'xi[1],xi[2]': { coal: [-5.0158730157855915], mig: [-29.141502260372413] },
  },
};

describe('derivatives at the rounding of their terms', () => {
  type RunJson = {
    gradient: Record<string, Record<string, number[]>>;
    gradient_variance: Record<string, Record<string, number>>;
    gradient_covariance: Record<string, Record<string, number>>;
    warnings: Array<{ message: string; site: number }>;
  };
  const accuracy = (r: RunJson) => r.warnings.map((w) => w.message).filter((m) => / derivatives? by /.test(m));
  const twoDeme = (mig: string, more: string[] = []) =>
    cliJson([
      'run',
      join(ROOT, 'examples', 'two_deme_sfs.phasic'),
      '--param',
      `mig=${mig}`,
      '--no-cache',
      '--gradient',
      ...more,
    ]) as RunJson;

  it('names none where every derivative is far above its rounding (Kingman: θ·dE[T^k]/dθ = −k·E[T^k])', () => {
    const r = cliJson(['run', join(ROOT, 'examples', 'kingman.phasic'), '--no-cache', '--gradient']) as RunJson;
    assert.deepEqual(accuracy(r), []);
  });

  it('gives a derivative that is 0 in closed form as 0, or names it with a bound that covers 0', async () => {
    // Strobeck: E[T] = d/coal whatever mig, so dE[T]/dmig = 0; in double the terms of size E/mig
    // left their rounding (4.4e-16), recomputed in quadruple precision they cancel exactly.
    const r = await engine.run(compiledModel('structured'), { params: { coal: 1, mig: 0.5 }, gradient: true });
    const d = r.gradient?.time.mig[0] as number;
    assert.ok(Math.abs(d) <= 1e-13, `dE[T]/dmig = ${d}`);
    const named = r.warnings.map((w) => w.message).filter((m) => m.includes('dE[time]/dmig'));
    if (d === 0) assert.deepEqual(named, [], 'an exact 0 is not named');
    else {
      assert.equal(named.length, 1, r.warnings.map((w) => w.message).join('\n'));
      const bound = Number(/known only to about ±([^:]+):/.exec(named[0])?.[1]);
      assert.ok(Math.abs(d) <= bound, `0 is within ±${bound} of ${d}`);
    }
  });

  it('recomputes in quadruple precision where a tiny migration rate leaves double no digit: two_deme_sfs at mig = 1e-20 and 1e-12', () => {
    // At 1e-20 the expected time in a state left only by migration is 1e20: terms of that size
    // cancel to dE[xi[1]]/dmig ≈ −1.126 (double gave −8192 with a warning); quadruple precision
    // keeps about 13 digits of it (reference: TWO_DEME_REFERENCE).
    for (const mig of ['1e-20', '1e-12'] as const) {
      const r = twoDeme(mig, ['--covariance', 'xi[1],xi[2]']);
      assert.deepEqual(accuracy(r), [], `mig = ${mig}`);
      const reference = TWO_DEME_REFERENCE[mig];
      const near = (got: number, want: number, what: string) =>
        assert.ok(Math.abs(got - want) <= 1e-12 * Math.abs(want), `mig = ${mig}: ${what} = ${got}, reference ${want}`);
      for (const [reward, byParam] of Object.entries(reference)) {
        for (const [p, want] of Object.entries(byParam)) {
          if (reward.includes(',')) {
            near(r.gradient_covariance[reward][p], want[0], `dCov[${reward}]/d${p}`);
            continue;
          }
          near(r.gradient[reward][p][0], want[0], `dE[${reward}]/d${p}`);
          near(r.gradient[reward][p][1], want[1], `dE[${reward}^2]/d${p}`);
          near(r.gradient_variance[reward][p], want[2], `dVar[${reward}]/d${p}`);
        }
      }
    }
  });

  it('leaves a run whose derivatives keep their digits as it was: two_deme_sfs at mig = 0.5', () => {
    // As printed before quadruple precision existed (the same bits).
    const r = twoDeme('0.5');
    assert.deepEqual(accuracy(r), []);
    assert.deepEqual(r.gradient['xi[1]'], {
      coal: [-2.1916294941719356, -19.547425758625003],
      mig: [-0.33886310049392565, -4.856457288184492],
    });
    assert.deepEqual(r.gradient_variance['xi[1]'], { coal: -9.198283713647305, mig: -3.2563043562500646 });
  });

  it('says so where even quadruple precision leaves too few digits: two_deme_sfs at mig = 1e-35', () => {
    const tiny = twoDeme('1e-35');
    const mig = accuracy(tiny).filter((m) => m.includes('by mig'));
    assert.equal(mig.length, 1, accuracy(tiny).join('\n'));
    assert.match(
      mig[0],
      /^\d+ derivatives by mig keep fewer than 6 digits at mig = 1e-35, the least dE\[xi\[\d\]\]\/dmig = /,
    );
    assert.match(mig[0], /each rounded by about 1\.9e-34 of itself; these are recomputed in quadruple precision/);
    // Terms of 1e35 cancel to about −1.126 (its limit as mig → 0), within the bound given.
    const bound = Number(/known only to about ±([^:]+):/.exec(mig[0])?.[1]);
    assert.ok(bound > 1 && bound < 1e5 && Math.abs(tiny.gradient['xi[1]'].mig[0] + 1.126) <= bound, mig[0]);
  });

  it('keeps the double derivatives where quadruple precision rounds worse: two_deme_sfs at mig = 1e150', () => {
    // As mig → ∞, E[xi[0]] = 4 + c/mig + …: the moment itself at mig = 1e6, 4.000000777776231
    // (a double evaluation with no cancellation; (E − 4)·mig = 0.78), gives c ≈ 0.78, so the
    // true dE[xi[0]]/dmig = −c/mig² at 1e150 is about −7.8e-301. The process jumps along mig some 1e150
    // times, and GTH's differences x_v − x_w keep quadruple precision's rounding of x (≈ 1e-34),
    // not of E/mig: it gave −1.97e-68, printed with no warning; double's 1.06e-165 is off by
    // about its stated rounding (8.9e-166), and is kept with its warning.
    const r = twoDeme('1e150');
    const mig = accuracy(r).filter((m) => m.includes('by mig'));
    assert.equal(mig.length, 1, accuracy(r).join('\n'));
    assert.match(
      mig[0],
      /each rounded by about 2\.2e-16 of itself; not recomputed in quadruple precision: there it gives dE\[xi\[\d\](\^2)?\]\/dmig = -?[\d.e-]+, [\d.e+]+ times double's rounding estimate ε·\|E\|\/mig = [\d.e-]+ from double's -?[\d.e-]+: the process jumps along mig's rates so often here that quadruple precision rounds worse than double; the double is kept, and its ± is \|double − quadruple\| \+ the quadruple's bound/,
    );
    // Two ±: the bound stated, and the words saying what it is; the estimate ε·|E|/mig is never quoted as a ± (decision 104).
    assert.equal(mig[0].split('±').length, 3, mig[0]);
    assert.doesNotMatch(mig[0], /double's -?[\d.e-]+ ±/);
    assert.ok(Math.abs(r.gradient['xi[0]'].mig[0]) < 1e-164, `dE[xi[0]]/dmig = ${r.gradient['xi[0]'].mig[0]}`);
  });

  it('states for the derivative it names an accuracy that holds: two_deme_sfs at mig = 1e40 and 1e150 (decision 93)', () => {
    // References: dE[R]/dmig, dE[R²]/dmig, dVar[R]/dmig from mpmath at 140 and 370 digits (the
    // adjoint formula on the exported graph, component by component). At 1e40 the named
    // dE[xi[4]^2]/dmig came out −3.9e-69 for −1.19e-80, stated ±9.2e-74 before the bound.
    const references: Record<string, Record<string, number[]>> = {
      '1e40': {
        time: [-4.777777777777778e-81, -4.598141849332325e-80, -1.1581418493323255e-80],
        tmrca: [-4.777777777777778e-81, -4.598141849332325e-80, -1.1581418493323255e-80],
        'xi[0]': [-7.777777777777778e-81, -7.365520282186949e-80, -1.1432980599647266e-80],
        'xi[1]': [-2.5e-81, -1.8985260770975057e-80, -8.985260770975055e-81],
        'xi[2]': [-1.6666666666666665e-81, -1.1980347694633407e-80, -7.535903250188964e-81],
        'xi[3]': [-1.25e-81, -9.05026455026455e-81, -6.55026455026455e-81],
        'xi[4]': [-1e-81, -1.1930158730158729e-80, -1.0330158730158729e-80],
        'xi[5]': [-8.333333333333333e-82, -5.825396825396825e-81, -4.714285714285714e-81],
        'xi[6]': [-7.142857142857142e-82, -5.264550264550264e-81, -4.448223733938019e-81],
        'xi[7]': [-6.25e-82, -4.814814814814815e-81, -4.189814814814815e-81],
        'xi[8]': [-5.555555555555555e-82, -4.444444444444444e-81, -3.950617283950617e-81],
      },
      '1e150': {
        time: [-4.7777777777777776e-301, -4.598141849332326e-300, -1.1581418493323256e-300],
        tmrca: [-4.7777777777777776e-301, -4.598141849332326e-300, -1.1581418493323256e-300],
        'xi[0]': [-7.777777777777778e-301, -7.36552028218695e-300, -1.1432980599647266e-300],
        'xi[1]': [-2.5e-301, -1.8985260770975058e-300, -8.985260770975056e-301],
        'xi[2]': [-1.6666666666666667e-301, -1.198034769463341e-300, -7.535903250188965e-301],
        'xi[3]': [-1.25e-301, -9.05026455026455e-301, -6.5502645502645505e-301],
        'xi[4]': [-1e-301, -1.193015873015873e-300, -1.033015873015873e-300],
        'xi[5]': [-8.333333333333334e-302, -5.8253968253968255e-301, -4.714285714285714e-301],
        'xi[6]': [-7.142857142857143e-302, -5.264550264550265e-301, -4.44822373393802e-301],
        'xi[7]': [-6.25e-302, -4.814814814814815e-301, -4.189814814814815e-301],
        'xi[8]': [-5.555555555555556e-302, -4.4444444444444446e-301, -3.950617283950617e-301],
      },
    };
    for (const [mig, reference] of Object.entries(references)) {
      const r = twoDeme(mig, ['--moments', '2']);
      const named = accuracy(r).filter((m) => m.includes('by mig'));
      assert.equal(named.length, 1, accuracy(r).join('\n'));
      const claim = /the least d(E|Var)\[(.+?)(\^2)?\]\/dmig = ([^,]+), known only to about ±([^:]+):/.exec(named[0]);
      assert.ok(claim, named[0]);
      const [, kind, reward, square, value, bound] = claim;
      const truth = reference[reward][kind === 'Var' ? 2 : square ? 1 : 0];
      const printed = kind === 'Var' ? r.gradient_variance[reward].mig : r.gradient[reward].mig[square ? 1 : 0];
      assert.equal(Number(value), printed, named[0]);
      assert.ok(
        Math.abs(printed - truth) <= Number(bound),
        `mig = ${mig}: ${printed} is ${Math.abs(printed - truth)} from ${truth}, stated ±${bound}`,
      );
    }
  });

  it('judges a covariance derivative that cancels where every moment keeps its digits (decision 105)', () => {
    // Start to state 1 (A, rate t, then B at rate t) with probability 1/4, to state 2 (A, rate
    // 3t, then B at rate s·t) with 3/4, s = 1 + 2⁻⁴⁶. Closed form: Cov[A, B] = (1/4)(3/4)(1/t −
    // 1/(3t))(1/t − 1/(st)) = δ/(8t²), δ = (s − 1)/s (s − 1 is exact in double), so dCov/dt =
    // −δ/(4t³) ≈ −7.0e-14 at t = 0.37, where its terms E[A]·E[B]/t are 10. Every moment is a
    // multiple of t^−k, its derivative −k·E/t: they keep their digits, and the covariance's went
    // unjudged: −7.64e-14 (9 % off) was printed with no warning. Recomputed in quadruple precision.
    const s = 1 + 2 ** -46;
    const graph = mixture(s);
    const file = join(tempDir('gradient-mixture'), 'mixture.json');
    writeFileSync(file, JSON.stringify(graph));
    const t = 0.37;
    const r = cliJson([
      'run',
      file,
      '--param',
      `p1=${t}`,
      '--no-cache',
      '--gradient',
      '--covariance',
      's0,s1',
    ]) as RunJson;
    assert.deepEqual(accuracy(r), []);
    const truth = -((s - 1) / s) / (4 * t ** 3);
    const got = r.gradient_covariance['s0,s1'].p1;
    assert.ok(Math.abs(got - truth) <= 1e-14 * Math.abs(truth), `dCov[s0, s1]/dp1 = ${got}, closed form ${truth}`);
    // The moments' derivatives, −k·E[R^k]/t, keep theirs (recomputed alike).
    const means: Record<string, number> = { s0: 0.25 / t + 0.75 / (3 * t), s1: 0.25 / t + 0.75 / (s * t) };
    for (const [reward, mean] of Object.entries(means)) {
      const d = r.gradient[reward].p1[0];
      assert.ok(Math.abs(d + mean / t) <= 1e-14 * (mean / t), `dE[${reward}]/dp1 = ${d}, closed form ${-mean / t}`);
    }
  });

  it('keeps the double derivatives and their warning past the size limit: structured n = 10, d = 5', () => {
    // A component of 1001 states: its dense elimination alone is 3.3e8 multiply-adds, past the 1e8 allowed.
    const r = cliJson([
      'run',
      join(ROOT, 'examples', 'structured.phasic'),
      '--set',
      'n=10',
      '--set',
      'd=5',
      '--param',
      'mig=1e-20',
      '--no-cache',
      '--gradient',
    ]) as RunJson;
    const mig = accuracy(r).filter((m) => m.includes('by mig'));
    assert.equal(mig.length, 1, accuracy(r).join('\n'));
    assert.match(
      mig[0],
      /each rounded by about 2\.2e-16 of itself; not recomputed in quadruple precision: it would take about [\d.e+]+ multiply-adds, more than the 1e\+08 allowed/,
    );
  });

  it('is right where a state is left only by a tiny rate (closed form: dE[T]/dt = (3/7 − 2)/(0.3 + t)²)', async () => {
    // State 1 leaves at rate 0.3 to absorption or at rate t to state 2, which goes on at rate 0.7 to
    // state 3, which leaves at rate t; s0 is 1 in states 2 and 3. With a = 0.3 + t:
    //   E[T] = 1/a + (t/a)(1/0.7 + 1/t) = (2 + t/0.7)/a,   E[s0] = (1 + t/0.7)/a,
    //   E[T²] = 2/a² + 2(1 + t/0.7)/a² + (2t/0.49 + 2/0.7 + 2/t)/a,   E[s0²] = (2t/0.49 + 2/0.7 + 2/t)/a.
    // At t = 1e-20 the derivatives of the means sum terms of 1e20 that cancel to −17.46 and −6.35;
    // double gave −22.2 and −11.1.
    const graph: PhasicGraph = {
      states: [
        [0, 0],
        [0, 0],
        [1, 0],
        [1, 0],
        [0, 0],
      ],
      n_vertices: 5,
      state_length: 2,
      param_length: 1,
      edges: [
        [1, 4, 0.3],
        [2, 3, 0.7],
      ],
      start_edges: [[1, 1]],
      param_edges: [
        [1, 2, 1],
        [3, 4, 1],
      ],
    };
    const t = 1e-20;
    const a = 0.3 + t;
    const r = await engine.run(JSON.stringify(graph), { params: { p1: t }, gradient: true });
    assert.deepEqual(
      r.warnings.map((w) => w.message).filter((m) => / derivatives? by /.test(m)),
      [],
    );
    const close = (got: Moment | undefined, want: number, what: string) =>
      assert.ok(Math.abs((got as number) - want) <= 1e-14 * Math.abs(want), `${what} = ${got}, closed form ${want}`);
    const tail = (2 * t) / 0.49 + 2 / 0.7 + 2 / t;
    const dTail = (2 / 0.49 - 2 / t ** 2) / a - tail / a ** 2;
    const dS0 = (0.3 / 0.7 - 1) / a ** 2;
    close(r.gradient?.time.p1[0], (0.3 / 0.7 - 2) / a ** 2, 'dE[T]/dt');
    close(r.gradient?.time.p1[1], -4 / a ** 3 + 2 / 0.7 / a ** 2 - (4 * (1 + t / 0.7)) / a ** 3 + dTail, 'dE[T²]/dt');
    close(r.gradient?.s0.p1[0], dS0, 'dE[s0]/dt');
    close(r.gradient?.s0.p1[1], dTail, 'dE[s0²]/dt');
    close(r.gradientVariance?.s0.p1, dTail - 2 * ((1 + t / 0.7) / a) * dS0, 'dVar[s0]/dt');
    // A reused run (its graph from the memory cache) recomputes them alike.
    const again = await engine.run(JSON.stringify(graph), { params: { p1: t }, gradient: true });
    assert.equal(again.reused, true);
    assert.deepEqual(again.gradient, r.gradient);
    assert.deepEqual(again.gradientVariance, r.gradientVariance);
    assertOnlyCachesHoldMemory(engine);
  });

  it('judges and recomputes an evaluation as a run, per θ of a batch (decision 82)', async () => {
    // phasic/evaluate and a fit's batches used to give the double derivatives unchecked: at
    // mig = 1e-20, dE[xi[1]]/dmig = −8192 and dE[xi[0]]/dmig = 0 (references −1.126… and
    // −0.41666…, TWO_DEME_REFERENCE); at 1e-30, −7e13 for dE[xi[0]]/dmig.
    const { model } = compileModel(readFileSync(join(ROOT, 'examples', 'two_deme_sfs.phasic'), 'utf8'), 'm.phasic');
    const text = JSON.stringify(model);
    const asked = { moments: 2, gradient: true, covariances: [['xi[1]', 'xi[2]']] as Array<[string, string]> };
    const run = await engine.run(text, { ...asked, params: { coal: 1, mig: 0.5 } });
    const batch = await engine.evaluateMany(
      run.traceKey,
      ['0.5', '1e-20', '1e-12', '1e-35'].map((mig) => ({ coal: 1, mig: Number(mig) })),
      2,
      [['xi[1]', 'xi[2]']],
      true,
    );
    // Where every derivative keeps its digits, the run's bits and nothing more.
    assert.equal(batch[0].impreciseGradient, undefined);
    assert.deepEqual(batch[0].gradient, run.gradient);
    assert.deepEqual(batch[0].gradientVariance, run.gradientVariance);
    assert.deepEqual(batch[0].gradientCovariance, run.gradientCovariance);
    for (const [i, mig] of [
      [1, '1e-20'],
      [2, '1e-12'],
    ] as const) {
      const r = batch[i];
      assert.equal(r.impreciseGradient, undefined, `mig = ${mig}`);
      for (const [reward, byParam] of Object.entries(TWO_DEME_REFERENCE[mig])) {
        if (reward.includes(',')) continue;
        for (const [p, want] of Object.entries(byParam)) {
          const got = r.gradient?.[reward][p][0] as number;
          assert.ok(Math.abs(got - want[0]) <= 1e-12 * Math.abs(want[0]), `mig = ${mig}: dE[${reward}]/d${p} = ${got}`);
        }
      }
      // The same numbers as the run with --gradient at that θ.
      const alone = await engine.run(text, { ...asked, params: { coal: 1, mig: Number(mig) } });
      assert.deepEqual(r.gradient, alone.gradient);
      assert.deepEqual(r.gradientCovariance, alone.gradientCovariance);
    }
    // Where even quadruple precision keeps too few digits, the run's warning, by parameter.
    const doubt = batch[3].impreciseGradient?.mig ?? '';
    assert.match(doubt, /^\d+ derivatives by mig keep fewer than 6 digits at mig = 1e-35, /);
    assert.match(doubt, /each rounded by about 1\.9e-34 of itself; these are recomputed in quadruple precision/);
    assertOnlyCachesHoldMemory(engine);
  });
});

describe('derivatives beyond a double where the moments are not (decision 115)', () => {
  it('names the derivatives that are not finite though every moment is, in a run and an evaluation', async () => {
    // two_deme_sfs at mig = 1e300: migration mixes the demes at once, so a pair of lineages
    // shares a deme half the time and coalesces at rate coal/2: E[tmrca] = 2·2·(1 − 1/10) = 3.6
    // and dE[tmrca]/dcoal = −E/coal = −3.6. dE/dmig ≈ −c/mig² lies below a double; its
    // computation overflowed (products of rates of 1e300) and gave NaN, printed "undefined"
    // with no word and exit status 0.
    const { model } = compileModel(readFileSync(join(ROOT, 'examples', 'two_deme_sfs.phasic'), 'utf8'), 'm.phasic');
    const text = JSON.stringify(model);
    const run = await engine.run(text, { moments: 2, gradient: true, params: { coal: 1, mig: 1e300 } });
    const e = run.moments.tmrca[0] as number;
    assert.ok(Math.abs(e - 3.6) <= 1e-12 * 3.6, `E[tmrca] = ${e}`);
    const dCoal = run.gradient?.tmrca.coal[0] as number;
    assert.ok(Math.abs(dCoal + 3.6) <= 1e-12 * 3.6, `dE[tmrca]/dcoal = ${dCoal}`);
    assert.deepEqual(run.gradient?.tmrca.mig, ['NaN', 'NaN']);
    const named = run.warnings.filter((w) => /not finite/.test(w.message));
    assert.equal(named.length, 1, run.warnings.map((w) => w.message).join('\n'));
    assert.match(
      named[0].message,
      /^\d+ derivatives by mig are not finite at mig = 1e\+?300 \(the first: dE\[time\]\/dmig, not a number\) though every moment is: .* rescale the parameter/,
    );
    assert.doesNotMatch(named[0].message, /by coal/);
    const [evaluated] = await engine.evaluateMany(run.traceKey, [{ coal: 1, mig: 1e300 }], 2, [], true);
    assert.equal(evaluated.impreciseGradient?.mig, named[0].message);
    assert.equal(evaluated.impreciseGradient?.coal, undefined);
    // The CLI prints it among its warnings.
    const cli = spawnSync(
      process.execPath,
      [CLI, 'run', join(ROOT, 'examples', 'two_deme_sfs.phasic'), '--param', 'mig=1e300', '--gradient', '--no-cache'],
      { encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /\nwarning: \d+ derivatives by mig are not finite at mig = 1e\+?300 /);
  });
});

describe('non-finite moments and batches', () => {
  it('reports the derivatives of infinite or undefined moments as "NaN", never as numbers', async () => {
    // coal = 0: the lineages never coalesce, E[T] is infinite.
    const r = await engine.run(compiledModel('structured'), {
      params: { coal: 0, mig: 0.5 },
      gradient: true,
      covariances: [['tmrca', 'tmrca']],
    });
    assert.deepEqual(r.moments.tmrca, ['Infinity', 'Infinity']);
    assert.deepEqual({ ...r.gradient?.tmrca }, { coal: ['NaN', 'NaN'], mig: ['NaN', 'NaN'] });
    assert.equal(r.gradientVariance?.tmrca.coal, 'NaN');
    assert.deepEqual({ ...r.gradientCovariance?.['tmrca,tmrca'] }, { coal: 'NaN', mig: 'NaN' });
    // mig = 0: E[T] = 1/coal there but d/coal·… for every mig > 0 (Strobeck), so E[T]
    // jumps at mig = 0 and has no derivative; the engine does not invent one.
    const jump = await engine.evaluate(r.traceKey, { coal: 1, mig: 0 }, 2, [], true);
    assert.deepEqual(jump.moments.tmrca, [1, 2]);
    assert.equal(jump.gradient?.tmrca.mig[0], 'NaN');
    const cli = cliJson([
      'run',
      join(ROOT, 'test', 'fixtures', 'engine', 'structured.json'),
      '--param',
      'coal=0',
      '--no-cache',
      '--gradient',
    ]);
    assert.deepEqual((cli.gradient as Record<string, Record<string, Moment[]>>).tmrca.coal, ['NaN', 'NaN']);
    assertOnlyCachesHoldMemory(engine);
  });

  it('refuses a gradient option that is not a boolean, and gives empty records without parameters', async () => {
    const model = compiledModel('kingman');
    const notBoolean = 'yes' as unknown as boolean;
    await assert.rejects(engine.run(model, { gradient: notBoolean }), /gradient must be a boolean/);
    const r = await engine.run(model, {});
    await assert.rejects(engine.evaluate(r.traceKey, {}, 2, [], notBoolean), /gradient must be a boolean/);
    // A graph without parameters: every reward's record by parameter is empty.
    const constant: PhasicGraph = {
      states: [[0], [1], [1], [0]],
      n_vertices: 4,
      state_length: 1,
      param_length: 0,
      edges: [
        [1, 2, 1],
        [2, 1, 0.5],
        [2, 3, 2],
      ],
      start_edges: [[1, 1]],
      param_edges: [],
    };
    const none = await engine.run(JSON.stringify(constant), { gradient: true });
    assert.deepEqual({ ...none.gradient?.time }, {});
    assert.deepEqual({ ...none.gradientVariance?.time }, {});
    assertOnlyCachesHoldMemory(engine);
  });

  it('gives in a batch (8 lanes and the remainder) exactly what it gives alone', async () => {
    const r = await engine.run(JSON.stringify(randomGraph(41, 30, 3)), { moments: K, minSccSize: 3 });
    const rand = random(41);
    const sets = Array.from({ length: 11 }, (_, i) => ({
      p1: i === 3 ? 0 : 0.2 + rand(),
      p2: 0.2 + rand(),
      p3: 0.2 + rand(),
    }));
    const batch = await engine.evaluateMany(r.traceKey, sets, K, PAIRS, true);
    const strip = ({ evaluateMs: _e, gradientMs: _g, ...rest }: EvaluateResult) => rest;
    for (let i = 0; i < sets.length; i++) {
      const one = await engine.evaluate(r.traceKey, sets[i], K, PAIRS, true);
      assert.deepEqual(strip(batch[i]), strip(one), `set ${i}`);
      assert.ok(batch[i].gradient);
    }
    assertOnlyCachesHoldMemory(engine);
  });
});
