// The survival function P(Y > t) and the density far in the tail, each within epsilon
// relative to itself (decision 94), through the real addon: against closed forms
// (exponential, Erlang, Kingman's T_MRCA, a hypoexponential) and, for a chain with a
// cycle, mpmath's expm at 50 digits. The references were computed at authoring time
// (mpmath 1.3, mp.dps = 50) and are carried here. An absolute bound says nothing there:
// S = 1e-15 was a CDF of 1 − 1e-15 ± 1e-10, and a density of 1e-50 was 0 or noise.
// Quantiles near 1 come from the survival; a survival below the floor is said to be
// below it (null), never printed as 0.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../extension/engine/engine';
import { compileModel } from '../../extension/language';
import type { DistributionResult } from '../../extension/protocol/engine';
import { ROOT } from './helpers';

const engine = new Engine();

const ERLANG = (stages: number, rate: number) => `model erlang
param lambda = ${rate}
state k in 0..${stages} = ${stages}
rule step
  when k >= 1
  rate lambda
  do k -= 1
`;

/** Kingman's coalescent, n = 4, theta = 1: T_MRCA is hypoexponential with rates 6, 3, 1. */
const KINGMAN4 = readFileSync(join(ROOT, 'examples', 'kingman.phasic'), 'utf8');

/** Two states that pass the process back and forth: A → B at 2, B → A at 1, out of A at 0.1, of B at 0.5. */
const CYCLE = `model cycle
state k in 0..2 = 1
rule ab
  when k == 1
  rate 2
  do k = 2
rule ba
  when k == 2
  rate 1
  do k = 1
rule out_a
  when k == 1
  rate 0.1
  do k = 0
rule out_b
  when k == 2
  rate 0.5
  do k = 0
`;

async function distribution(
  text: string,
  times: number[],
  extra: { reward?: string; quantiles?: number[]; epsilon?: number } = {},
): Promise<DistributionResult> {
  const { model, diagnostics } = compileModel(text, 'survival.phasic');
  assert.ok(model, diagnostics.map((d) => d.message).join('\n'));
  const run = await engine.run(JSON.stringify(model), { params: {} });
  return engine.distribution(run.traceKey, { reward: 'time', params: {}, quantiles: [], times, ...extra });
}

/** Each [t, S(t), f(t)] within `relative` of the reference, relative to the reference. */
function assertTail(result: DistributionResult, expected: Array<[number, number, number]>, relative: number): void {
  expected.forEach(([t, s, f], i) => {
    assert.equal(result.times[i], t);
    const survival = result.survival[i];
    assert.ok(survival !== null, `S(${t}) is resolved`);
    assert.ok(Math.abs(survival - s) <= relative * s, `S(${t}) = ${survival}, expected ${s}`);
    assert.ok(Math.abs(result.pdf[i] - f) <= relative * f, `f(${t}) = ${result.pdf[i]}, expected ${f}`);
  });
}

/** The model's S and f at the expected times, within `relative` of the references. */
async function assertTailOf(
  text: string,
  expected: Array<[number, number, number]>,
  relative: number,
  extra: { reward?: string; epsilon?: number } = {},
): Promise<DistributionResult> {
  const d = await distribution(
    text,
    expected.map(([t]) => t),
    extra,
  );
  assertTail(d, expected, relative);
  return d;
}

describe('survival and density far in the tail, within epsilon relative', () => {
  it('an exponential: S(t) = e^(−λt) is the k = 0 term alone, which an absolute window drops', async () => {
    const expected: Array<[number, number, number]> = [
      [17.25, 1.039538011670222e-15, 2.079076023340444e-15],
      [57.5, 1.1379798735078682e-50, 2.2759597470157363e-50],
      [230, 1.6770203186015345e-200, 3.354040637203069e-200],
    ];
    await assertTailOf(ERLANG(1, 2), expected, 1e-10);
  });

  it('an Erlang(5, 3): S(t) = e^(−λt) Σ_{i<5} (λt)^i / i!, and its density near 0', async () => {
    // Near t = 0 the density (~ t^4) is far below Λ·S: the Poisson window's own right
    // tail, negligible to S, was 1e-10 of it (relative error 1.01e-10 at ε = 1e-10).
    const expected: Array<[number, number, number]> = [
      [0.01, 0.999999999802498, 9.825761027178645e-8],
      [0.1, 0.9999842149594583, 0.0007500784484402393],
      [10, 3.624300952061488e-9, 9.474593255950677e-9],
      [40, 6.851289685373773e-46, 1.9874543807087423e-45],
      [160, 7.709550262022112e-200, 2.293631523812786e-199],
      [200, 1.4408034326399303e-251, 4.293642415866983e-251],
    ];
    await assertTailOf(ERLANG(5, 3), expected, 1e-10);
  });

  it('an Erlang(20, 1) near 0: a density of 3e-18 lies beyond the Poisson window of t', async () => {
    // d_k = 0 for k < 19, and at t = 1 the window ends near k = 12: summing the window
    // alone gave a density of 0 there.
    const expected: Array<[number, number, number]> = [
      [1, 1.0, 3.02420270060242e-18],
      [2, 0.9999999999999356, 5.832924198269276e-13],
    ];
    await assertTailOf(ERLANG(20, 1), expected, 1e-10);
  });

  it("Kingman's T_MRCA (n = 4), a hypoexponential of rates 6, 3, 1", async () => {
    const expected: Array<[number, number, number]> = [
      [36, 4.175141094438425e-16, 4.175141094438425e-16],
      [118, 1.019820271744609e-51, 1.019820271744609e-51],
      [463, 1.5028906546172083e-201, 1.5028906546172083e-201],
    ];
    await assertTailOf(KINGMAN4, expected, 1e-10, { reward: 'tmrca' });
  });

  it('a chain with a cycle, against mpmath expm at 50 digits', async () => {
    const expected: Array<[number, number, number]> = [
      [97, 1.2896250930203548e-15, 4.569357981404029e-16],
      [325, 1.062480349249777e-50, 3.764546060870407e-51],
      [1300, 9.895735551993197e-201, 3.506225062701229e-201],
    ];
    const d = await assertTailOf(CYCLE, expected, 1e-10);
    // The CDF keeps its absolute bound: 1 there, to within epsilon.
    assert.ok(d.cdf.every((c) => Math.abs(c - 1) <= d.epsilon));
  });

  it('gives the CDF at each time as 1 − S from the same sum: within epsilon·S + rounding, and 1 below the floor', async () => {
    // Erlang(5, 3): S(t) = e^(−x) Σ_{i<5} x^i / i! (x = 3t), the CDF 1 − S, on the default
    // grid (0 to the 99.9% quantile) and at times into the far tail and below the floor.
    // One Poisson window per time serves the CDF, the survival and the density (decision
    // 102), so the CDF and the survival agree to the rounding of 1 − S.
    const survival = (t: number) => {
      let term = 1;
      let sum = 1;
      for (let i = 1; i < 5; i++) sum += term *= (3 * t) / i;
      return Math.exp(-3 * t) * sum;
    };
    const { model } = compileModel(ERLANG(5, 3), 'survival.phasic');
    const run = await engine.run(JSON.stringify(model), { params: {} });
    const grid = await engine.distribution(run.traceKey, { reward: 'time', params: {}, quantiles: [] });
    assert.equal(grid.times.length, 200);
    const far = await distribution(ERLANG(5, 3), [0, 0.5, 2, 10, 40, 200, 240]);
    for (const d of [grid, far]) {
      d.times.forEach((t, i) => {
        const s = d.survival[i];
        const exact = survival(t);
        assert.ok(Math.abs(d.cdf[i] - (1 - exact)) <= d.epsilon * exact + 2 ** -52, `CDF(${t}) = ${d.cdf[i]}`);
        assert.equal(d.cdf[i], s === null ? 1 : Math.min(1, Math.max(0, 1 - s)), `CDF(${t}) is 1 − S(${t})`);
      });
    }
    assert.deepEqual(far.cdf.slice(-3), [1, 1, 1]);
    assert.equal(far.survival[6], null);
  });

  it('keeps the bound at a tight epsilon', async () => {
    await assertTailOf(CYCLE, [[325, 1.062480349249777e-50, 3.764546060870407e-51]], 1e-12, { epsilon: 1e-13 });
  });

  it('says a survival below the floor is below it (null), never 0, and keeps S(0) exact', async () => {
    // S = 2.2e-300 and 3.7e-348 (exponential), 7.8e-324 (the cycle at t = 2100); t = 1e300.
    const d = await distribution(ERLANG(1, 2), [0, 345, 400, 1e300]);
    assert.equal(d.survivalFloor, 1e-289);
    assert.deepEqual(d.survival, [1, null, null, null]);
    assert.equal(d.pdf[0], 2);
    const c = await distribution(CYCLE, [0, 2100]);
    assert.deepEqual(c.survival, [1, null]);
  });
});

describe('quantiles near 1 from the survival', () => {
  it('p = 1 − 1e-12: the exponential and the cycle, against closed form and mpmath', async () => {
    // As a double p = 1 − 1e-12 is 1 − 9.999778782798785e-13 (1 − p exact).
    const d = await distribution(ERLANG(1, 2), [1], { quantiles: [0.5, 1 - 1e-12] });
    const [median, top] = d.quantiles;
    assert.ok(Math.abs(median.value - Math.LN2 / 2) <= 1e-8 * median.value, `median ${median.value}`);
    assert.ok(Math.abs(top.value - 13.81552161894668) <= 1e-8 * 13.8, `top ${top.value}`);
    // The survival is known to within epsilon relative: the interval is that narrow.
    assert.ok(top.low <= 13.81552161894668 && 13.81552161894668 <= top.high, JSON.stringify(top));
    assert.ok(top.high - top.low <= 1e-8 * top.value, JSON.stringify(top));
    const c = await distribution(CYCLE, [1], { quantiles: [1 - 1e-12] });
    assert.ok(Math.abs(c.quantiles[0].value - 78.22193991357967) <= 1e-8 * 78.2, `cycle ${c.quantiles[0].value}`);
  });
});
