// The distribution of the time to absorption and of rewards (issue 13) through the
// real addon, against closed forms (exponential, Erlang, Kingman's T_MRCA and total
// branch length, both hypoexponential) and against a dense matrix exponential written
// in test/engine/expm.ts on random cyclic graphs with parameters, a defective start
// and rewards that are 0 in some states (the reward transformation written here from
// its textbook form, with dense solves: no elimination). Quantiles are checked against
// bisection on the reference CDF; the CDF's shape, the density's integral and the
// mean against the trace's first moment; bad input against its messages; and the
// memory ledger: the parametric graph is held after a run, freed by Clear Caches, and
// a new parameter vector explores nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Engine, EngineFailure } from '../../extension/engine/engine';
import { compileModel } from '../../extension/language';
import { DEFAULT_EPSILON, DEFAULT_GRID_POINTS, DEFAULT_QUANTILES } from '../../extension/protocol/distribution';
import type { DistributionResult } from '../../extension/protocol/engine';
import { random } from '../random';
import { solve } from './dense';
import { type Matrix, PhaseType } from './expm';
import { assertClose, assertOnlyCachesHoldMemory } from './helpers';

const engine = new Engine();

function compiled(text: string): string {
  const { model, diagnostics } = compileModel(text, 'distribution.phasic');
  assert.ok(model, diagnostics.map((d) => d.message).join('\n'));
  return JSON.stringify(model);
}

async function traceOf(text: string, params: Record<string, number> = {}): Promise<string> {
  return (await engine.run(text, { params })).traceKey;
}

/** Every CDF and density value within `tolerance` of the reference. */
function assertMatches(
  result: DistributionResult,
  cdf: (t: number) => number,
  pdf: (t: number) => number,
  tolerance: number,
  what: string,
): void {
  result.times.forEach((t, i) => {
    const [c, f] = [cdf(t), pdf(t)];
    assert.ok(Math.abs(result.cdf[i] - c) <= tolerance, `${what}: CDF(${t}) = ${result.cdf[i]}, expected ${c}`);
    assert.ok(Math.abs(result.pdf[i] - f) <= tolerance, `${what}: pdf(${t}) = ${result.pdf[i]}, expected ${f}`);
  });
}

function assertQuantiles(result: DistributionResult, quantile: (p: number) => number, what: string): void {
  for (const { p, value } of result.quantiles) {
    const expected = quantile(p);
    assert.ok(
      Math.abs(value - expected) <= 1e-8 * Math.max(expected, 1e-300) + 1e-300,
      `${what}: quantile ${p} = ${value}, expected ${expected}`,
    );
  }
}

const KINGMAN = (n: number) => `model kingman
const n = ${n}
param theta = 1.0
state k in 1..n = n
rule coalesce
  when k >= 2
  rate theta * k * (k - 1) / 2
  do k -= 1
reward tmrca = 1
reward total_length = k
`;

/** P(Y > t) of a sum of independent exponentials with distinct rates. */
function hypoSurvival(rates: number[], t: number): number {
  return rates.reduce((s, r, k) => {
    const c = rates.reduce((p, q, j) => (j === k ? p : (p * q) / (q - r)), 1);
    return s + c * Math.exp(-r * t);
  }, 0);
}
function hypoDensity(rates: number[], t: number): number {
  return rates.reduce((s, r, k) => {
    const c = rates.reduce((p, q, j) => (j === k ? p : (p * q) / (q - r)), 1);
    return s + c * r * Math.exp(-r * t);
  }, 0);
}

describe('distribution: closed forms', () => {
  it('an exponential: CDF, density, quantiles, no atom, defaults filled in', async () => {
    const key = await traceOf(
      compiled(`model expo
param lambda = 2.0
state k in 0..1 = 1
rule go
  when k == 1
  rate lambda
  do k -= 1
`),
    );
    const r = await engine.distribution(key, {
      reward: 'time',
      params: { lambda: 3 },
      // The largest double: Λt overflows to +∞ and must still read as absorbed.
      times: [5, 0, 1e300, 0.1, 0.5, 1, 2, Number.MAX_VALUE, 1e20],
    });
    assert.deepEqual(r.times, [0, 0.1, 0.5, 1, 2, 5, 1e20, 1e300, Number.MAX_VALUE], 'given times come back sorted');
    assert.equal(r.traceKey, key);
    assert.equal(r.reward, 'time');
    assert.deepEqual(r.params, { lambda: 3 });
    assert.equal(r.atom, 0);
    assert.equal(r.epsilon, DEFAULT_EPSILON);
    assert.equal(r.method.name, 'uniformization');
    assert.equal(r.method.states, 1);
    assertMatches(
      r,
      (t) => 1 - Math.exp(-3 * t),
      (t) => 3 * Math.exp(-3 * t),
      DEFAULT_EPSILON,
      'Exp(3)',
    );
    assert.deepEqual(
      r.quantiles.map((q) => q.p),
      DEFAULT_QUANTILES,
    );
    assertQuantiles(r, (p) => -Math.log(1 - p) / 3, 'Exp(3)');
    assertOnlyCachesHoldMemory(engine);
  });

  it('an Erlang, on the default grid from 0 to the 99.9% quantile', async () => {
    const key = await traceOf(
      compiled(`model erlang
param lambda = 2.0
state k in 0..3 = 3
rule go
  when k >= 1
  rate lambda
  do k -= 1
`),
    );
    const r = await engine.distribution(key, { reward: 'time', params: {} });
    const cdf = (t: number) => 1 - Math.exp(-2 * t) * (1 + 2 * t + (2 * t) ** 2 / 2);
    const pdf = (t: number) => (8 * t * t * Math.exp(-2 * t)) / 2;
    assert.equal(r.times.length, DEFAULT_GRID_POINTS);
    assert.equal(r.times[0], 0);
    assert.ok(Math.abs(cdf(r.times.at(-1)!) - 0.999) < 1e-8, `the grid ends at the 99.9% quantile: ${r.times.at(-1)}`);
    assertMatches(r, cdf, pdf, DEFAULT_EPSILON, 'Erlang(3, 2)');
    const reference = (p: number) => {
      let [lo, hi] = [0, 100];
      while (hi - lo > 1e-13 * hi) [lo, hi] = cdf((lo + hi) / 2) >= p ? [lo, (lo + hi) / 2] : [(lo + hi) / 2, hi];
      return hi;
    };
    assertQuantiles(r, reference, 'Erlang(3, 2)');
  });

  it("Kingman's T_MRCA and total branch length (hypoexponential), at a second parameter vector", async () => {
    const key = await traceOf(compiled(KINGMAN(5)));
    for (const theta of [1, 2.5]) {
      const times = Array.from({ length: 41 }, (_, i) => i * 0.2);
      const tmrca = await engine.distribution(key, { reward: 'tmrca', params: { theta }, times, epsilon: 1e-12 });
      const rates = [5, 4, 3, 2].map((k) => (theta * k * (k - 1)) / 2);
      assertMatches(
        tmrca,
        (t) => 1 - hypoSurvival(rates, t),
        (t) => hypoDensity(rates, t),
        1e-12,
        `T_MRCA θ=${theta}`,
      );
      // k·Exp(θk(k−1)/2) is Exp(θ(k−1)/2): the total length is hypoexponential too.
      const length = await engine.distribution(key, { reward: 'total_length', params: { theta }, times });
      const lengthRates = [5, 4, 3, 2].map((k) => (theta * (k - 1)) / 2);
      assertMatches(
        length,
        (t) => 1 - hypoSurvival(lengthRates, t),
        (t) => hypoDensity(lengthRates, t),
        DEFAULT_EPSILON,
        `L θ=${theta}`,
      );
      const time = await engine.distribution(key, { reward: 'time', params: { theta }, times });
      assert.deepEqual(time.cdf.length, tmrca.cdf.length);
    }
  });
});

// ---- random cyclic graphs against a dense reference ------------------------------

interface PhasicGraph {
  states: number[][];
  n_vertices: number;
  state_length: number;
  param_length: number;
  edges: number[][];
  start_edges: number[][];
  param_edges: number[][];
}

/**
 * n transient states 1..n and one absorbing state n+1. Cell 0 is the vertex id (a
 * positive reward), cell 1 is 0 in about a third of the states (a reward with zeros).
 * A chain i → i+1 → … → absorption with constant rates keeps absorption certain at
 * every θ; random edges in both directions make it cyclic.
 */
function randomGraph(seed: number, n: number, defective: boolean): PhasicGraph {
  const next = random(seed);
  const P = 2;
  const states = [[0, 0]];
  for (let v = 1; v <= n + 1; v++) states.push([v, next() < 0.35 ? 0 : 1 + Math.floor(next() * 3)]);
  const edges: number[][] = [];
  const param_edges: number[][] = [];
  for (let v = 1; v <= n; v++) {
    edges.push([v, v + 1, 0.2 + next()]);
    for (let w = 1; w <= n + 1; w++) {
      if (w === v || w === v + 1 || next() > 0.4) continue;
      if (next() < 0.5) edges.push([v, w, 0.1 + 2 * next()]);
      else param_edges.push([v, w, ...Array.from({ length: P }, () => (next() < 0.7 ? next() * 2 : 0))]);
    }
  }
  const starts = [1, 1 + Math.floor(next() * n), 1 + Math.floor(next() * n)];
  const weight = (defective ? 0.85 : 1) / starts.length;
  return {
    states,
    n_vertices: n + 2,
    state_length: 2,
    param_length: P,
    edges,
    start_edges: starts.map((v) => [v, weight]),
    param_edges,
  };
}

/** (α, T) of Y = ∫ r(X_t) dt by the textbook reward transformation, with dense solves. */
function rewardLaw(g: PhasicGraph, theta: number[], reward: (state: number[]) => number): PhaseType {
  const n = g.n_vertices;
  const rate: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const [from, to, w] of g.edges) rate[from][to] += w;
  for (const [from, to, ...c] of g.param_edges) rate[from][to] += c.reduce((s, ci, i) => s + ci * theta[i], 0);
  const transient = [...Array(n).keys()].filter((v) => v !== 0 && rate[v].some((x) => x > 0));
  const alphaAll = transient.map((v) => g.start_edges.filter(([to]) => to === v).reduce((s, [, w]) => s + w, 0));
  const T = transient.map((v, i) =>
    transient.map((w, j) => (i === j ? -rate[v].reduce((s, x) => s + x, 0) : rate[v][w])),
  );
  const plus = transient.map((_, i) => i).filter((i) => reward(g.states[transient[i]]) > 0);
  const zero = transient.map((_, i) => i).filter((i) => reward(g.states[transient[i]]) === 0);
  const block = (rows: number[], cols: number[]) => rows.map((i) => cols.map((j) => T[i][j]));
  // P0 = (−T00)⁻¹ T0+: where a zero-reward stretch hands the process to a positive state.
  const negT00 = block(zero, zero).map((row) => row.map((x) => -x));
  const T0p = block(zero, plus);
  const P0 = zero.map(() => new Array<number>(plus.length).fill(0));
  plus.forEach((_, j) => {
    const column = zero.length
      ? solve(
          negT00,
          T0p.map((row) => row[j]),
        )
      : [];
    column.forEach((x, i) => (P0[i][j] = x));
  });
  const alpha = plus.map((i, j) => alphaAll[i] + zero.reduce((s, z, k) => s + alphaAll[z] * P0[k][j], 0));
  const Tpp = block(plus, plus);
  const Tp0 = block(plus, zero);
  const transformed = plus.map((i, a) =>
    plus.map((_, b) => {
      const through = zero.reduce((s, _z, k) => s + Tp0[a][k] * P0[k][b], 0);
      return (Tpp[a][b] + through) / reward(g.states[transient[i]]);
    }),
  );
  return new PhaseType(alpha, transformed);
}

/** Simpson's rule on an odd number of equally spaced values. */
function simpson(values: number[], h: number): number {
  let s = values[0] + values[values.length - 1];
  for (let i = 1; i < values.length - 1; i++) s += (i % 2 ? 4 : 2) * values[i];
  return (s * h) / 3;
}

describe('distribution: random cyclic graphs against a dense matrix exponential', () => {
  const rewards: Array<[string, (s: number[]) => number]> = [
    ['time', () => 1],
    ['s0', (s) => s[0]],
    ['s1', (s) => s[1]],
  ];
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const defective = seed % 3 === 0;
    it(`seed ${seed}${defective ? ', defective start' : ''}: every reward at two parameter vectors`, async () => {
      const g = randomGraph(seed * 7919, 4 + (seed % 4), defective);
      const key = await traceOf(JSON.stringify(g));
      for (const theta of [
        [1, 1],
        [0.3, 2.7],
      ]) {
        for (const [name, reward] of rewards) {
          const law = rewardLaw(g, theta, reward);
          const what = `seed ${seed} θ=${theta} ${name}`;
          const r = await engine.distribution(key, {
            reward: name,
            params: { p1: theta[0], p2: theta[1] },
            times: [0, 0.05, 0.3, 1, 2.5, 6, 15],
          });
          assert.ok(Math.abs(r.atom - law.atom) <= 1e-12, `${what}: atom ${r.atom}, expected ${law.atom}`);
          assertMatches(
            r,
            (t) => law.cdf(t),
            (t) => law.pdf(t),
            DEFAULT_EPSILON + 1e-12,
            what,
          );
          assertQuantiles(r, (p) => law.quantile(p), what);
        }
      }
      assertOnlyCachesHoldMemory(engine);
    });
  }

  it('a reward that is 0 on the start states has its atom at 0 and quantile 0 below it', async () => {
    // S → A (reward 0); A → B at rate a, A → absorbed at rate b; B → absorbed at rate c.
    const g: PhasicGraph = {
      states: [
        [0, 0],
        [1, 0],
        [2, 1],
        [3, 0],
      ],
      n_vertices: 4,
      state_length: 2,
      param_length: 1,
      edges: [
        [1, 2, 1],
        [2, 3, 2],
      ],
      start_edges: [[1, 1]],
      param_edges: [[1, 3, 1]],
    };
    const key = await traceOf(JSON.stringify(g));
    const r = await engine.distribution(key, {
      reward: 's1',
      params: { p1: 3 },
      times: [0, 0.5, 1],
      quantiles: [0.5, 0.8],
    });
    assert.ok(Math.abs(r.atom - 0.75) < 1e-15, `atom ${r.atom}`);
    assert.equal(r.method.eliminated, 1);
    assertMatches(
      r,
      (t) => 1 - 0.25 * Math.exp(-2 * t),
      (t) => 0.5 * Math.exp(-2 * t),
      DEFAULT_EPSILON,
      'atom',
    );
    assert.equal(r.quantiles[0].value, 0);
    assert.ok(Math.abs(r.quantiles[1].value - Math.log(0.25 / 0.2) / 2) < 1e-9);
  });
});

describe('distribution: shape and mean', () => {
  it('the CDF rises from the atom to 1, the density integrates to 1 − atom, and the mean is the first moment', async () => {
    const g = randomGraph(424242, 6, true);
    const text = JSON.stringify(g);
    const run = await engine.run(text, { params: { p1: 0.7, p2: 1.3 } });
    for (const name of ['time', 's1']) {
      const mean = Number(run.moments[name][0]);
      // The survival beyond 60 is below 1e-12 for these rates; Simpson's error on this grid is far below 1e-8.
      const N = 24_000;
      const top = 60;
      const times = Array.from({ length: N + 1 }, (_, i) => (top * i) / N);
      const r = await engine.distribution(run.traceKey, { reward: name, params: { p1: 0.7, p2: 1.3 }, times });
      assert.ok(
        r.cdf.every((c, i) => c >= 0 && c <= 1 && (i === 0 || c >= r.cdf[i - 1] - 2 * r.epsilon)),
        'monotone in [0, 1]',
      );
      assert.ok(Math.abs(r.cdf[0] - r.atom) <= 1e-12, 'CDF(0) is the atom');
      assert.ok(1 - r.cdf.at(-1)! < 1e-9, `CDF tends to 1: ${r.cdf.at(-1)}`);
      const h = top / N;
      const mass = simpson(r.pdf, h);
      assert.ok(Math.abs(mass - (1 - r.atom)) < 1e-8, `${name}: ∫pdf = ${mass}, 1 − atom = ${1 - r.atom}`);
      const integratedMean = simpson(
        r.cdf.map((c) => 1 - c),
        h,
      );
      assert.ok(
        Math.abs(integratedMean - mean) <= 1e-8 * mean,
        `${name}: ∫(1 − CDF) = ${integratedMean}, first moment ${mean}`,
      );
    }
  });
});

describe('distribution: bad input', () => {
  const expo = compiled(`model expo2
param lambda = 1.0
param mu = 1.0
state k in 0..2 = 2
rule go
  when k == 2
  rate lambda
  do k -= 1
rule back
  when k == 1
  rate mu
  do k += 1
rule out
  when k == 1
  rate 1
  do k -= 1
reward ones = k
`);

  async function failure(request: Parameters<Engine['distribution']>[1], key?: string): Promise<EngineFailure> {
    const traceKey = key ?? (await traceOf(expo));
    try {
      await engine.distribution(traceKey, request);
    } catch (error) {
      assert.ok(error instanceof EngineFailure);
      return error;
    }
    assert.fail('expected a failure');
  }

  it('names what is wrong, with kind argument', async () => {
    const cases: Array<[Parameters<Engine['distribution']>[1], RegExp]> = [
      [{ reward: 'nope', params: {} }, /unknown reward 'nope'; the model has time, ones/],
      [{ reward: 'time', params: {}, times: [1, -1] }, /times\[1\] must be a finite number >= 0, got -1/],
      [{ reward: 'time', params: {}, times: [Number.NaN] }, /times\[0\] must be a finite number >= 0, got NaN/],
      [{ reward: 'time', params: {}, quantiles: [0.5, 1] }, /quantile p must be strictly between 0 and 1, got 1/],
      [{ reward: 'time', params: {}, quantiles: [0] }, /strictly between 0 and 1, got 0/],
      [{ reward: 'time', params: {}, quantiles: [1e-300] }, /quantile p = 1e-300 is within epsilon \(1e-10\) of 0/],
      [{ reward: 'time', params: {}, epsilon: 1e-20 }, /epsilon must be from 1e-14 to 1e-3, got 1e-20/],
      [{ reward: 'time', params: {}, epsilon: 0.1 }, /epsilon must be from 1e-14 to 1e-3, got 0.1/],
      [{ reward: 'time', params: {}, gridPoints: 1 }, /gridPoints must be an integer from 2 to 100000, got 1/],
      [{ reward: 'time', params: {}, gridPoints: 2.5 }, /gridPoints must be an integer from 2 to 100000, got 2.5/],
      [{ reward: 'time', params: { lambda: -1 } }, /parameter lambda must be finite and >= 0, got -1/],
      [{ reward: 'time', params: { nu: 1 } }, /unknown parameter 'nu'/],
    ];
    for (const [request, message] of cases) {
      const e = await failure(request);
      assert.equal(e.kind, 'argument', `${message}: ${e.kind} ${e.message}`);
      assert.match(e.message, message);
    }
    assertOnlyCachesHoldMemory(engine);
  });

  it("refuses a quantile beyond a double's range, with kind argument, instead of answering Infinity or a truncated number", async () => {
    // One exponential phase at λ = 1e-310: the median ln 2 / λ ≈ 6.9e309 is no double.
    // It came out as Infinity, and the default grid as the times NaN and Infinity, with
    // no failure.
    const slow = await traceOf(
      compiled(
        'model slow\nparam lambda = 1.0\nstate k in 0..1 = 1\nrule go\n  when k == 1\n  rate lambda\n  do k -= 1\n',
      ),
    );
    const cases: Array<[Parameters<Engine['distribution']>[1], RegExp]> = [
      [
        { reward: 'time', params: { lambda: 1e-310 }, times: [1], quantiles: [0.5] },
        /at these parameters the 0.5 quantile is beyond the largest double/,
      ],
      [
        { reward: 'time', params: { lambda: 1e-310 } },
        /the default grid ends at the 0.999 quantile, which at these parameters is beyond the largest double/,
      ],
    ];
    for (const [request, message] of cases) {
      const e = await failure(request, slow);
      assert.equal(e.kind, 'argument', `${message}: ${e.kind} ${e.message}`);
      assert.match(e.message, message);
    }
    // Below the normal doubles a quantile keeps only some of its digits: the 1e-6
    // quantile of Exp(1.5e308) is 6.7e-315, a subnormal with 9 significant bits.
    const e = await failure({ reward: 'time', params: { lambda: 1.5e308 }, times: [1], quantiles: [1e-6] }, slow);
    assert.equal(e.kind, 'argument', `${e.kind} ${e.message}`);
    assert.match(e.message, /the 1e-06 quantile is below the smallest normal double \(about 2\.2e-308\)/);
    // In range, the same model answers: the median of Exp(1e-300) is ln 2 · 1e300.
    const near = await engine.distribution(slow, {
      reward: 'time',
      params: { lambda: 1e-300 },
      times: [1],
      quantiles: [0.5],
    });
    assertClose(near.quantiles[0].value, Math.LN2 * 1e300, 1e-8, 'median');
    assertOnlyCachesHoldMemory(engine);
  });

  it('refuses a parameter vector at which absorption is not certain, with kind model', async () => {
    // With the exit rule's rate fixed at 1 nothing traps; a model whose only way out is a
    // parameter does trap when it is 0.
    const trap = compiled(`model trap
param lambda = 1.0
param out = 1.0
state k in 0..2 = 2
rule go
  when k == 2
  rate lambda
  do k -= 1
rule leave
  when k == 1
  rate out
  do k -= 1
`);
    const key = await traceOf(trap);
    const e = await failure({ reward: 'time', params: { out: 0 } }, key);
    assert.equal(e.kind, 'model');
    assert.match(e.message, /absorption is not certain at these parameters/);
    assertOnlyCachesHoldMemory(engine);
  });

  it('answers an evicted trace like evaluate does', async () => {
    const e = await failure({ reward: 'time', params: {} }, '0'.repeat(32));
    assert.equal(e.kind, 'cache');
    assert.match(e.message, /trace no longer cached; run again/);
  });

  it('stops a long uniformization at its next step when cancelled, and frees its scratch', async () => {
    // A stiff chain: 400 states that swap at rate 1e4 and leave slowly (rate 1e-3 from
    // the last), so the series needs ~1e4·(absorption time) steps: far more than the
    // test waits for. The signal aborts at the first progress report.
    const n = 400;
    const g: PhasicGraph = {
      states: Array.from({ length: n + 2 }, (_, v) => [v]),
      n_vertices: n + 2,
      state_length: 1,
      param_length: 1,
      edges: [
        ...Array.from({ length: n - 1 }, (_, i) => [i + 1, i + 2, 1e4]),
        ...Array.from({ length: n - 1 }, (_, i) => [i + 2, i + 1, 1e4]),
        [n, n + 1, 1e-3],
      ],
      start_edges: [[1, 1]],
      param_edges: [],
    };
    const key = await traceOf(JSON.stringify(g));
    const controller = new AbortController();
    let reports = 0;
    const e = await failure(
      {
        reward: 'time',
        params: {},
        times: [1e6],
        signal: controller.signal,
        onProgress: (p) => {
          reports++;
          if (p.done > 0) controller.abort();
        },
      },
      key,
    );
    assert.equal(e.kind, 'cancelled', e.message);
    assert.ok(reports > 0);
    assertOnlyCachesHoldMemory(engine);
  });

  it('refuses a chain too stiff for uniformization with kind limit, before hours of work', async () => {
    // Two states that swap at rate 1e4 and leave at 1e-6: all but ε of the mass is
    // absorbed only after ~2e4·3e7 steps, far beyond the engine's 4,000,000.
    const g: PhasicGraph = {
      states: [[0], [1], [2], [3]],
      n_vertices: 4,
      state_length: 1,
      param_length: 1,
      edges: [
        [1, 2, 1e4],
        [2, 1, 1e4],
        [2, 3, 1e-6],
      ],
      start_edges: [[1, 1]],
      param_edges: [],
    };
    const key = await traceOf(JSON.stringify(g));
    const e = await failure({ reward: 'time', params: {} }, key);
    assert.equal(e.kind, 'limit', e.message);
    assert.match(e.message, /needs more than 4000000 uniformization steps .* too stiff/);
    assertOnlyCachesHoldMemory(engine);
  });

  it('fails with kind budget above the memory budget, and frees what it built', async () => {
    const key = await traceOf(compiled(KINGMAN(8)));
    const held = engine.memory().accountedBytes;
    // 64 bytes above what the caches hold: the call's first sizable allocation exceeds it.
    engine.configure({ memoryBudgetBytes: held.traces + held.cache + held.graph + 64 });
    try {
      const e = await failure({ reward: 'time', params: {} }, key);
      assert.equal(e.kind, 'budget', e.message);
    } finally {
      engine.configure({ memoryBudgetBytes: 2 ** 45 });
    }
    assertOnlyCachesHoldMemory(engine);
  });

  it('is cancelled by its signal', async () => {
    const key = await traceOf(expo);
    const controller = new AbortController();
    controller.abort();
    const e = await failure({ reward: 'time', params: {}, signal: controller.signal }, key);
    assert.equal(e.kind, 'cancelled');
  });
});

describe('distribution: memory', () => {
  it('keeps the parametric graph in the ledger after a run, frees it with Clear Caches, and never explores again', async () => {
    await engine.clearCaches();
    const text = compiled(KINGMAN(12));
    const run = await engine.run(text);
    const held = engine.memory();
    assert.ok(held.accountedBytes.graph > 0, 'the parametric graph is counted under graph');
    assertOnlyCachesHoldMemory(engine);
    const phases = new Set<string>();
    const r = await engine.distribution(run.traceKey, {
      reward: 'tmrca',
      params: { theta: 0.37 },
      onProgress: (p) => phases.add(p.phase),
    });
    assert.deepEqual([...phases], ['distribution'], 'no exploring phase: the cached graph is used');
    assert.equal(r.params.theta, 0.37);
    assert.equal(engine.memory().accountedBytes.graph, held.accountedBytes.graph, 'nothing explored, nothing kept');
    assertOnlyCachesHoldMemory(engine);
    const cleared = await engine.clearCaches();
    assert.equal(cleared.freedBytes.graph, held.accountedBytes.graph);
    assert.equal(engine.memory().accountedBytes.graph, 0);
    const gone = await engine.distribution(run.traceKey, { reward: 'time', params: {} }).catch((e) => e);
    assert.ok(gone instanceof EngineFailure && gone.kind === 'cache');
  });
});
