// Parameters set to 0, infinite and undefined moments, and moments beyond the largest
// double, through the real addon and the real CLI (issue 11, points 3 and 15's engine
// half). Numbers are checked against closed forms and against the dense solve of
// ./dense.ts, never against the engine's own output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../extension/engine/engine';
import { compileModel } from '../../extension/language';
import type { EvaluateResult, Moment, RunResult } from '../../extension/protocol/engine';
import { random } from '../random';
import { type Expected, type PhasicGraph, reference } from './dense';
import {
  assertClose,
  assertOnlyCachesHoldMemory,
  CLI,
  compiledModel,
  engineFailure,
  MODEL_FIXTURES,
  tempDir,
} from './helpers';

const engine = new Engine();
engine.configure({ cacheDir: tempDir('infinite-cache') });

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args, '--no-cache'], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A moment as reported, against what it should be (relative `rel` when finite). */
function assertMoment(actual: Moment, expected: Expected, rel: number, what: string, scale = 0): void {
  if (typeof expected === 'string') {
    assert.equal(actual, expected, what);
    return;
  }
  assert.equal(typeof actual, 'number', `${what}: ${actual} should be ${expected}`);
  const a = actual as number;
  assert.ok(
    Math.abs(a - expected) <= rel * Math.max(Math.abs(expected), scale),
    `${what}: ${a} differs from ${expected}`,
  );
}

describe('a parameter set to 0', () => {
  it('drops the states it makes unreachable: structured n=2 d=2 with mig = 0 has E[tmrca] = 1', async () => {
    // Two lineages in deme 0 that never migrate coalesce at rate coal = 1: T ~ Exp(1),
    // E[T^k] = k!. The states with a lineage in deme 1 are never reached, and the one
    // with one lineage in each deme has no rate out at all.
    const r = await engine.run(compiledModel('structured'), {
      params: { coal: 1, mig: 0 },
      moments: 3,
      covariances: [['time', 'tmrca']],
    });
    assert.deepEqual(r.moments.tmrca, [1, 2, 6]);
    assert.deepEqual(r.moments.time, [1, 2, 6]);
    assert.equal(r.variance.tmrca, 1);
    assert.equal(r.covariance['time,tmrca'], 1);
    assert.equal(r.nonFinite, undefined);
    // At mig > 0 the answer is d = 2 again (Strobeck), from the same trace.
    const again = await engine.evaluate(r.traceKey, { coal: 1, mig: 0.5 });
    assertClose(again.moments.tmrca[0], 2, 1e-12, 'E[tmrca] at mig = 0.5');
    assertOnlyCachesHoldMemory(engine);
  });

  it('gives the same answer in a batch (8 lanes and the remainder) as alone', async () => {
    const r = await engine.run(compiledModel('structured'), { params: { coal: 1, mig: 0.5 }, moments: 3 });
    const sets = Array.from({ length: 11 }, (_, i) => ({ coal: i % 3 === 2 ? 0 : 1, mig: i % 2 === 0 ? 0 : 0.25 * i }));
    const batch = await engine.evaluateMany(r.traceKey, sets, 3, [['time', 'tmrca']]);
    for (let i = 0; i < sets.length; i++) {
      const one = await engine.evaluate(r.traceKey, sets[i], 3, [['time', 'tmrca']]);
      const strip = ({ evaluateMs: _ms, ...rest }: EvaluateResult) => rest;
      assert.deepEqual(strip(batch[i]), strip(one), `set ${i}: ${JSON.stringify(sets[i])}`);
    }
    assert.deepEqual(batch[0].moments.tmrca, [1, 2, 6]); // coal 1, mig 0
    assert.deepEqual(batch[2].moments.tmrca, ['Infinity', 'Infinity', 'Infinity']); // coal 0, mig 0
    assert.deepEqual(batch[5].moments.tmrca, ['Infinity', 'Infinity', 'Infinity']); // coal 0, mig 1.25
    assertOnlyCachesHoldMemory(engine);
  });

  it('says a truly infinite expectation is infinite, with the reason', async () => {
    // coal = 0: the two lineages migrate forever and never coalesce.
    const r = await engine.run(compiledModel('structured'), {
      params: { coal: 0, mig: 0.5 },
      covariances: [['time', 'tmrca']],
    });
    assert.deepEqual(r.moments.tmrca, ['Infinity', 'Infinity']);
    assert.equal(r.variance.tmrca, 'Infinity');
    assert.equal(r.covariance['time,tmrca'], 'NaN'); // ∞ − ∞
    assert.match(r.nonFinite ?? '', /not absorbed with probability 1/);
    assert.equal(r.nonFiniteCause, 'notAbsorbed');
  });

  it('calls the moments of a reward that is zero somewhere undefined when absorption is not certain', async () => {
    // Kingman SFS at θ = 0: nothing ever coalesces. tmrca (1 everywhere) is infinite;
    // xi[4] is 0 in the starting state, so whether it accumulates is not an expectation
    // the trace can give: undefined, never a number and never the same word as infinite.
    const r = await engine.run(compiledModel('kingman_sfs'), { params: { theta: 0 } });
    assert.deepEqual(r.moments.tmrca, ['Infinity', 'Infinity']);
    assert.deepEqual(r.moments['xi[4]'], ['NaN', 'NaN']);
    assert.equal(r.variance['xi[4]'], 'NaN');
  });
});

describe('moments beyond the largest double', () => {
  it('keeps a mean of 1.5e200 finite and says its second moment is infinite', async () => {
    // Kingman n = 4 at θ = 1e-200: E[T] = 1.5/θ, E[T²] = 3.3889/θ² > 1.8e308.
    const r = await engine.run(compiledModel('kingman'), { params: { theta: 1e-200 } });
    assertClose(r.moments.tmrca[0], 1.5e200, 1e-12, 'E[tmrca]');
    assertClose(r.moments.total_length[0], (11 / 3) * 1e200, 1e-12, 'E[total_length]');
    assert.equal(r.moments.tmrca[1], 'Infinity');
    assert.equal(r.variance.tmrca, 'Infinity');
    assert.match(
      r.nonFinite ?? '',
      /absorbed with probability 1 here, so every moment is finite and positive, but these are beyond the range of a double/,
    );
    assert.equal(r.nonFiniteCause, 'outOfRange');
  });

  it('gives a finite variance whose second moment overflows: Erlang(100) with E[T] = 2e154', async () => {
    // 100 phases of rate θ = 5e-153: E[T] = 100/θ = 2e154, E[T²] = E[T]²(1 + 1/100) ≈
    // 4.04e308 > 1.8e308, but Var = 100/θ² = 4e306 fits. Reward s0 is 1 in every
    // phase, so Cov(time, s0) = Var too.
    const k = 100;
    const graph: PhasicGraph = {
      states: [[0], ...Array.from({ length: k }, () => [1]), [0]],
      n_vertices: k + 2,
      state_length: 1,
      param_length: 1,
      edges: [],
      start_edges: [[1, 1]],
      param_edges: Array.from({ length: k }, (_, i) => [i + 1, i + 2, 1]),
    };
    const theta = 5e-153;
    const r = await engine.run(JSON.stringify(graph), {
      params: { p1: theta },
      moments: 3,
      covariances: [['time', 's0']],
    });
    assertClose(r.moments.time[0], k / theta, 1e-12, 'E[T]');
    assert.deepEqual(r.moments.time.slice(1), ['Infinity', 'Infinity']);
    assertClose(r.variance.time, k / theta / theta, 1e-9, 'Var(T)');
    assertClose(r.covariance['time,s0'], k / theta / theta, 1e-9, 'Cov(time, s0)');
    assert.match(
      r.nonFinite ?? '',
      /absorbed with probability 1 here, so every moment is finite and positive, but these are beyond the range of a double/,
    );
    assert.equal(r.nonFiniteCause, 'outOfRange');
  });

  it('never calls a certain absorption uncertain because its mean overflows: Kingman n = 4 at θ = 1e-310', async () => {
    // Every rate is positive (θ k(k−1)/2 > 0), so the process is absorbed with
    // probability 1 and E[T] = 1.5/θ = 1.5e310 is finite, but beyond a double. The trace
    // alone cannot tell that from a rate of 0 and used to answer "not absorbed with
    // probability 1 … infinite"; the graph's structure decides.
    const r = await engine.run(compiledModel('kingman'), { params: { theta: 1e-310 } });
    assert.equal(r.nonFiniteCause, 'outOfRange');
    assert.doesNotMatch(r.nonFinite ?? '', /not absorbed/);
    const again = await engine.evaluateMany(r.traceKey, [{ theta: 1e-310 }, { theta: 1 }, { theta: 0 }]);
    assert.deepEqual(
      again.map((e) => e.nonFiniteCause),
      ['outOfRange', undefined, 'notAbsorbed'],
    );
    assertClose(again[1].moments.tmrca[0], 1.5, 1e-14, 'E[tmrca] at θ = 1');
  });

  it('never calls a certain absorption uncertain because a rate underflows to 0', async () => {
    // rate a · 1e-200 at a = 1e-200 is 1e-400 in exact arithmetic, 0 in a double: the
    // one way out of the state is still there, so absorption is certain and E[T] = 1e400.
    const text =
      'model tiny\nparam a = 1\nstate k in 0..1 = 1\nrule go\n  when k == 1\n  rate a * 1e-200\n  do k -= 1\nreward t = 1\n';
    const { model, diagnostics } = compileModel(text, 'tiny.phasic');
    assert.ok(model, diagnostics.map((d) => d.message).join('\n'));
    const r = await engine.run(JSON.stringify(model), { params: { a: 1e-200 } });
    assert.equal(r.nonFiniteCause, 'outOfRange');
    const zero = await engine.run(JSON.stringify(model), { params: { a: 0 } });
    assert.equal(zero.nonFiniteCause, 'notAbsorbed');
  });

  it('keeps moments up to the largest double finite', async () => {
    // θ = 1e-150: E[T²] = 3.3889e300 and Var = E[T²] − E[T]² = (3.3889 − 2.25)e300.
    const r = await engine.run(compiledModel('kingman'), { params: { theta: 1e-150 } });
    assertClose(r.moments.tmrca[1], 3.388888888888889e300, 1e-12, 'E[tmrca²]');
    assertClose(r.variance.tmrca, (3.388888888888889 - 2.25) * 1e300, 1e-9, 'Var(tmrca)');
    assert.equal(r.nonFinite, undefined);
  });
});

describe('moments below the smallest double', () => {
  // Kingman n = 4 in closed form: T = T_4 + T_3 + T_2 with T_k ~ Exp(θ k(k−1)/2), so
  // E[T] = 1.5/θ, E[T²] = Var + E[T]² with Var = Σ (2/(θ k(k−1)))² = 1.138…/θ², and
  // Cov(T, L) for the total length L = Σ k T_k is Σ k Var(T_k) = 2.444…/θ².
  const variance = (theta: number) => (4 * (1 / 4 + 1 / 36 + 1 / 144)) / theta / theta;
  const covariance = (theta: number) => (4 * (1 / 2 + 1 / 12 + 1 / 36)) / theta / theta;

  it('computes on the scale of the mean what fits and calls the rest out of range, never 0', async () => {
    // θ = 1e150: E[T²] = 3.39e-300 fits; E[T³] ≈ 1e-449 does not and read 0.
    const r = await engine.run(compiledModel('kingman'), {
      params: { theta: 1e150 },
      moments: 3,
      covariances: [['tmrca', 'total_length']],
    });
    assertClose(r.moments.tmrca[0], 1.5e-150, 1e-12, 'E[T]');
    assertClose(r.moments.tmrca[1], variance(1e150) + 2.25e-300, 1e-12, 'E[T²]');
    assert.equal(r.moments.tmrca[2], 'NaN');
    assertClose(r.variance.tmrca, variance(1e150), 1e-12, 'Var(T)');
    assertClose(r.covariance['tmrca,total_length'], covariance(1e150), 1e-12, 'Cov(T, L)');
    assert.equal(r.nonFiniteCause, 'outOfRange');
    assert.match(r.nonFinite ?? '', /below about 2\.2e-308/);
  });

  it('never reports a second moment, variance, covariance or derivative that underflowed as 0', async () => {
    // θ = 1e300: E[T] = 1.5e-300 fits, E[T²] = 3.4e-600, Var, Cov and dE[T]/dθ = −1.5e-600
    // do not; all four read 0 with exit status 0.
    const r = await engine.run(compiledModel('kingman'), {
      params: { theta: 1e300 },
      moments: 2,
      covariances: [['tmrca', 'total_length']],
      gradient: true,
    });
    assertClose(r.moments.tmrca[0], 1.5e-300, 1e-12, 'E[T]');
    assert.equal(r.moments.tmrca[1], 'NaN');
    assert.equal(r.variance.tmrca, 'NaN');
    assert.equal(r.covariance['tmrca,total_length'], 'NaN');
    assert.deepEqual(r.gradient?.tmrca?.theta, ['NaN', 'NaN']);
    assert.equal(r.nonFiniteCause, 'outOfRange');
    // At θ = 1e100 the derivatives fit: dE[T]/dθ = −1.5/θ², dE[T²]/dθ = −2 E[T²]/θ.
    const fits = await engine.run(compiledModel('kingman'), { params: { theta: 1e100 }, moments: 2, gradient: true });
    const [d1, d2] = fits.gradient?.tmrca?.theta ?? [];
    assertClose(d1, -1.5e-200, 1e-12, 'dE[T]/dθ');
    assertClose(d2, (-2 * (variance(1e100) + 2.25e-200)) / 1e100, 1e-12, 'dE[T²]/dθ');
  });

  it('gives the same answer in a batch (8 lanes and the remainder) as alone', async () => {
    const r = await engine.run(compiledModel('kingman'), { params: { theta: 1 }, moments: 3 });
    const sets = Array.from({ length: 11 }, (_, i) => ({ theta: [1, 1e150, 1e300][i % 3] }));
    const pairs: Array<[string, string]> = [['tmrca', 'total_length']];
    const batch = await engine.evaluateMany(r.traceKey, sets, 3, pairs);
    for (let i = 0; i < sets.length; i++) {
      const one = await engine.evaluate(r.traceKey, sets[i], 3, pairs);
      const strip = ({ evaluateMs: _ms, ...rest }: EvaluateResult) => rest;
      assert.deepEqual(strip(batch[i]), strip(one), `set ${i}: θ = ${sets[i].theta}`);
    }
    assert.deepEqual(batch[2].moments.tmrca.slice(1), ['NaN', 'NaN']);
    assertClose(batch[1].moments.tmrca[1], variance(1e150) + 2.25e-300, 1e-12, 'E[T²] at θ = 1e150');
  });

  it('prints them as out of range on the command line, and the sd of a distribution too', () => {
    const kingman = join(MODEL_FIXTURES, 'kingman.phasic');
    const run = cli(['run', kingman, '--param', 'theta=1e300']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^tmrca: E\[R\^1\]=1\.5\d*e-300 E\[R\^2\]=out of range Var=out of range$/m);
    assert.doesNotMatch(run.stdout, /=0\b/);
    const dist = cli(['dist', kingman, '--param', 'theta=1e300', '--quantiles', '0.5']);
    assert.equal(dist.status, 0, dist.stderr);
    assert.match(dist.stdout, /^mean: 1\.5\d*e-300, sd: out of range$/m);
  });
});

// ---- random cyclic graphs with zero rates against the dense solve ---------------

/**
 * A phasic graph with `n` transient states (1..n) and two absorbing ones, cyclic, each
 * transient state with a structural way towards absorption (a chain i → i+1 → … → n →
 * absorbing) so the trace can be recorded; most edges depend on two parameters, so
 * setting one to 0 removes them at θ. State cell 0 is positive everywhere (a reward
 * like time), cell 1 is 0 in some states.
 */
function randomGraph(rand: () => number, n: number): PhasicGraph {
  const total = n + 3;
  const states = [[0, 0], ...Array.from({ length: total - 1 }, (_, i) => [1 + (i % 3), Math.floor(rand() * 3)])];
  const edges: number[][] = [];
  const param: number[][] = [];
  const weight = () => 0.25 + Math.round(rand() * 16) / 4;
  const add = (from: number, to: number) => {
    const kind = rand();
    if (kind < 0.3) edges.push([from, to, weight()]);
    else if (kind < 0.65) param.push([from, to, weight(), 0]);
    else param.push([from, to, 0, weight()]);
  };
  for (let v = 1; v <= n; v++) {
    add(v, v < n ? v + 1 : n + 1 + Math.floor(rand() * 2));
    const extra = Math.floor(rand() * 3);
    for (let e = 0; e < extra; e++) {
      const t = 1 + Math.floor(rand() * (n + 2));
      if (t !== v) add(v, t);
    }
  }
  const starts = [
    [1, 0.5],
    [1 + Math.floor(rand() * n), 0.5],
  ];
  return {
    states,
    n_vertices: total,
    state_length: 2,
    param_length: 2,
    edges,
    start_edges: starts,
    param_edges: param,
  };
}

describe('random cyclic graphs with rates set to 0, against a dense solve', () => {
  it('agrees on moments 1..3, variances and a covariance, or on infinite / undefined', async () => {
    const rand = random(20261202);
    // Ten θ: one batch of 8 lanes and two single ones.
    const thetas = [
      [1, 1],
      [0, 1],
      [1, 0],
      [0, 0],
      [0, 2.5],
      [0.5, 0],
      [2, 0],
      [0, 0.25],
      [3, 1],
      [0, 0],
    ];
    let certain = 0,
      uncertain = 0,
      dropped = 0;
    for (let g = 0; g < 60; g++) {
      const graph = randomGraph(rand, 3 + Math.floor(rand() * 8));
      const text = JSON.stringify(graph);
      const pairs: Array<[string, string]> = [
        ['time', 's1'],
        ['s0', 's1'],
      ];
      const run = await engine.run(text, { moments: 3, covariances: pairs, minSccSize: 2 + (g % 3) });
      const many = await engine.evaluateMany(
        run.traceKey,
        thetas.map(([p1, p2]) => ({ p1, p2 })),
        3,
        pairs,
      );
      thetas.forEach((theta, i) => {
        const want = reference(graph, theta, 3, pairs);
        const got = many[i];
        const what = `graph ${g} θ = ${theta}: ${text}`;
        want.absorptionCertain ? certain++ : uncertain++;
        if (want.absorptionCertain && want.trapped > 0) dropped++;
        for (const [reward, moments] of Object.entries(want.moments)) {
          moments.forEach((m, k) => assertMoment(got.moments[reward][k], m, 1e-9, `${what} E[${reward}^${k + 1}]`));
          // A variance loses relative accuracy to cancellation: compare on E[R²]'s scale.
          assertMoment(got.variance[reward], want.variance[reward], 1e-9, `${what} Var ${reward}`, Number(moments[1]));
        }
        for (const [pair, v] of Object.entries(want.covariance)) {
          const [a, b] = pair.split(',');
          const scale = Math.sqrt(Math.abs(Number(want.moments[a][1]) * Number(want.moments[b][1])));
          assertMoment(got.covariance[pair], v, 1e-9, `${what} Cov ${pair}`, scale);
        }
        assert.equal(got.nonFinite !== undefined, !want.absorptionCertain, `${what}: nonFinite`);
        // The engine's structural verdict against the reference's own reachability.
        assert.equal(got.nonFiniteCause, want.absorptionCertain ? undefined : 'notAbsorbed', `${what}: cause`);
      });
    }
    // The generator must exercise both sides, and states that cannot reach absorption
    // at θ but are never reached (they must drop out of a finite answer).
    assert.ok(
      certain > 50 && uncertain > 50 && dropped >= 10,
      `certain ${certain}, uncertain ${uncertain}, dropped ${dropped}`,
    );
    assertOnlyCachesHoldMemory(engine);
  });
});

describe('phasic-trace run with non-finite moments', () => {
  const structured = join(MODEL_FIXTURES, 'structured.phasic');

  it('prints E[tmrca] = 1 for mig = 0 and exits 0 without a warning', () => {
    const r = cli(['run', structured, '--param', 'mig=0', '--moments', '3']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^tmrca: E\[R\^1\]=1 E\[R\^2\]=2 E\[R\^3\]=6 Var=1$/m);
    assert.equal(r.stderr, '');
  });

  it('says infinite in words, why on stderr, and exits 0', () => {
    const r = cli(['run', structured, '--param', 'coal=0']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^tmrca: E\[R\^1\]=infinite E\[R\^2\]=infinite Var=infinite$/m);
    assert.doesNotMatch(r.stdout, /null|NaN/);
    assert.match(
      r.stderr,
      /^phasic-trace: warning: E\[time\], E\[time\^2\], E\[tmrca\], E\[tmrca\^2\], Var\(time\) and Var\(tmrca\) are infinite: at these parameters the process is not absorbed with probability 1/m,
    );
  });

  it('keeps infinite and undefined apart in --json, as the strings "Infinity" and "NaN"', () => {
    const r = cli(['run', join(MODEL_FIXTURES, 'kingman_sfs.phasic'), '--param', 'theta=0', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /null/);
    const record = JSON.parse(r.stdout) as Omit<RunResult, 'decomposition'>;
    assert.deepEqual(record.moments.tmrca, ['Infinity', 'Infinity']);
    assert.deepEqual(record.moments['xi[0]'], ['NaN', 'NaN']);
    assert.match(record.nonFinite ?? '', /undefined/);
    const human = cli(['run', join(MODEL_FIXTURES, 'kingman_sfs.phasic'), '--param', 'theta=0']);
    assert.match(human.stdout, /^xi\[0\]: E\[R\^1\]=undefined E\[R\^2\]=undefined Var=undefined$/m);
    assert.match(human.stderr, /are undefined: /);
  });

  it('prints a mean of 1.5e200 as a number and its second moment as out of range, never infinite', () => {
    const r = cli(['run', join(MODEL_FIXTURES, 'kingman.phasic'), '--param', 'theta=1e-200', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const record = JSON.parse(r.stdout) as Omit<RunResult, 'decomposition'> & { nonFiniteCause?: string };
    assertClose(record.moments.tmrca[0], 1.5e200, 1e-12, 'E[tmrca]');
    assert.equal(record.moments.tmrca[1], 'Infinity');
    assert.equal(record.nonFiniteCause, 'outOfRange');
    const human = cli(['run', join(MODEL_FIXTURES, 'kingman.phasic'), '--param', 'theta=1e-200']);
    assert.match(human.stdout, /^tmrca: E\[R\^1\]=1\.5\d*e\+200 E\[R\^2\]=out of range Var=out of range$/m);
    assert.match(human.stderr, /E\[tmrca\^2\].* are out of range: the process is absorbed with probability 1 here/);
    assert.doesNotMatch(human.stdout + human.stderr, /infinite/);
  });
});

describe('a rate that overflows a double at θ', () => {
  // Every rate is finite at the defaults; at a = 1e9 the first state's rate a·1e300 is
  // beyond the largest double. The time there is then ≈ 1e-309 and E[T] ≈ 1 (the second
  // state's Exp(1)); 1/λ = 1/∞ = 0 made the first step's probability 0 and E[T] 0.
  const overflowing =
    'model overflowing\nparam a = 1.0\nstate s in 0..2 = 0\n' +
    'rule first when s == 0 rate a * 1e300 do s = 1\nrule second when s == 1 rate 1 do s = 2\n';
  // Two rates of 1e308 out of the first state, each finite, sum to more than the largest
  // double: E[T] = 1/(2e308) + ½·1 = 0.5, and the sum's overflow made it 0.
  const summed =
    'model summed\nparam a = 1.0\nparam b = 1.0\nstate s in 0..2 = 0\n' +
    'rule on when s == 0 rate a * 1e308 do s = 1\nrule off when s == 0 rate b * 1e308 do s = 2\n' +
    'rule last when s == 1 rate 1 do s = 2\n';
  const compiled = (text: string) => {
    const { model, diagnostics } = compileModel(text, 'overflow.phasic');
    assert.ok(model, diagnostics.map((d) => d.message).join('\n'));
    return JSON.stringify(model);
  };
  const overflow =
    /a value the elimination needs overflows a double at these parameters: a transition rate, or the total rate out of a state, is beyond about 1\.8e308, or the rates, each finite, span more than a double can hold/;

  it('is refused with an argument error, never answered with moments, and the engine answers on', async () => {
    const run = await engine.run(compiled(overflowing), { moments: 2 });
    assertClose(run.moments.time[0], 1, 1e-12, 'E[T] at a = 1');
    for (const params of [{ a: 1e9 }, { a: 1e300 }]) {
      const failure = await engineFailure(engine.evaluate(run.traceKey, params, 2));
      assert.equal(failure.kind, 'argument', failure.message);
      assert.match(failure.message, overflow);
      const gradient = await engineFailure(engine.evaluate(run.traceKey, params, 2, [], true));
      assert.match(gradient.message, overflow);
    }
    // One θ that overflows in a batch fails the batch rather than answering it in part.
    await engineFailure(engine.evaluateMany(run.traceKey, [{ a: 1 }, { a: 1e9 }], 1));
    assertClose((await engine.evaluate(run.traceKey, { a: 2 }, 1)).moments.time[0], 1, 1e-12, 'E[T] at a = 2');
    const failure = await engineFailure(engine.run(compiled(summed), { moments: 1 }));
    assert.match(failure.message, overflow);
    assertOnlyCachesHoldMemory(engine);
  });

  // Structured n = 2, d = 2 at mig = 1e-310: every rate is finite (the largest is
  // coal = 1), but the state with one lineage per deme has a total rate out of 2e-310,
  // whose sojourn 1/λ = 5e309 is beyond a double; the elimination computed a λ of +∞
  // from it. The refusal said only "a transition rate, or the total rate out of a
  // state, overflows a double", which sent the modeller looking for a large rate that
  // does not exist.
  it('names rates that span beyond a double as a cause, for a θ where every rate is finite', async () => {
    const run = await engine.run(compiledModel('structured'), { moments: 1 });
    for (const gradient of [false, true]) {
      const failure = await engineFailure(engine.evaluate(run.traceKey, { coal: 1, mig: 1e-310 }, 2, [], gradient));
      assert.equal(failure.kind, 'argument', failure.message);
      assert.match(failure.message, overflow);
    }
    // In a batch the lanes are side by side: one such θ fails the batch with the same words.
    const batch = await engineFailure(
      engine.evaluateMany(
        run.traceKey,
        [
          { coal: 1, mig: 0.5 },
          { coal: 1, mig: 1e-310 },
        ],
        1,
      ),
    );
    assert.match(batch.message, overflow);
    const r = cli(['run', join(MODEL_FIXTURES, 'structured.phasic'), '--param', 'mig=1e-310', '--json']);
    assert.equal(r.status, 1, r.stdout);
    assert.match((JSON.parse(r.stdout) as { error: { message: string } }).error.message, overflow);
    assertClose((await engine.evaluate(run.traceKey, { coal: 1, mig: 0.5 }, 1)).moments.tmrca[0], 2, 1e-12, 'E[T]');
    assertOnlyCachesHoldMemory(engine);
  });

  it('is an error of status 1 on the command line, with and without --gradient', () => {
    const dir = tempDir('overflow');
    const file = join(dir, 'overflowing.phasic');
    writeFileSync(file, overflowing);
    assert.equal(cli(['run', file]).status, 0);
    for (const extra of [[], ['--gradient']]) {
      const r = cli(['run', file, '--param', 'a=1e9', '--json', ...extra]);
      assert.equal(r.status, 1, r.stdout);
      assert.match((JSON.parse(r.stdout) as { error: { message: string } }).error.message, overflow);
    }
  });
});
