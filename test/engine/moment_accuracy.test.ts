// A variance or covariance that is the difference of two nearly equal moments is named
// in the run's warnings (decision 110, engine/moment_accuracy.hpp) and in an evaluation's
// impreciseMoments at the θ where it cancels (decision 112), through the real CLI and the
// real addon, against its closed form (no number from the engine).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Engine } from '../../extension/engine/engine';
import { momentDoubt, runMomentWarning } from '../../extension/protocol/moment';
import type { PhasicGraph } from './dense';
import { CLI, tempDir } from './helpers';

const t = 0.37;

/**
 * Start to state 1 (A at rate t, then B at rate t) with probability 1/4, to state 2 (A at
 * rate 3t, then B at rate s·t) with 3/4. Within a branch A and B are independent, so
 * Cov[A, B] = (1/4)(3/4)·(1/t − 1/(3t))·(1/t − 1/(st)) = (s − 1)/(8·s·t²), while
 * E[A]·E[B] ≈ (1/(2t))·(1/t) ≈ 3.65: at s = 1 + 2⁻⁴⁶ (s − 1 exact) Cov ≈ 1.3e-14 is
 * left by a difference of terms rounded by ≈ 1.6e-15.
 */
function mixture(s: number): PhasicGraph {
  return {
    states: [
      [0, 0],
      [1, 0],
      [1, 0],
      [0, 1],
      [0, 1],
      [0, 0],
    ],
    n_vertices: 6,
    state_length: 2,
    param_length: 1,
    edges: [],
    start_edges: [
      [1, 0.25],
      [2, 0.75],
    ],
    param_edges: [
      [1, 3, 1],
      [2, 4, 3],
      [3, 5, 1],
      [4, 5, s],
    ],
  };
}
const covariance = (s: number) => (s - 1) / (8 * s * t * t);
const NEAR = 1 + 2 ** -46;

const dir = tempDir('moment-accuracy');
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (s: number) => {
  const path = join(dir, `mixture-${s}.json`);
  writeFileSync(path, JSON.stringify(mixture(s)));
  return path;
};
const cli = (s: number, json: boolean) =>
  spawnSync(
    process.execPath,
    [CLI, 'run', file(s), '--param', `p1=${t}`, '--no-cache', '--covariance', 's0,s1', ...(json ? ['--json'] : [])],
    { encoding: 'utf8' },
  );
const cancelling = (messages: string[]) => messages.filter((m) => /nearly equal moments/.test(m));
/** The ± the warning states for `name`. */
const stated = (message: string, name: string) => {
  const at = message.indexOf(`${name} = `);
  assert.ok(at >= 0, `${name} is named in: ${message}`);
  return Number(/±([0-9.e+-]+)\)/.exec(message.slice(at))?.[1]);
};

describe('variances and covariances that cancel (decision 110)', () => {
  it('names Cov of nearly independent rewards in the CLI JSON warnings, with a ± about its real error', () => {
    const r = cli(NEAR, true);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { covariance: Record<string, number>; warnings: Array<{ message: string }> };
    const doubts = cancelling(out.warnings.map((w) => w.message));
    assert.equal(doubts.length, 1, JSON.stringify(out.warnings));
    assert.match(doubts[0], /^1 value keeps fewer than 6 digits: Cov\(s0, s1\) = [0-9.e-]+ \(about [01]\.\d digits, ±/);
    assert.doesNotMatch(doubts[0], /Var\(/);
    const truth = covariance(NEAR);
    const got = out.covariance['s0,s1'];
    const bound = stated(doubts[0], 'Cov(s0, s1)');
    assert.ok(Math.abs(bound - 2 ** -52 * 2 * (1 / (2 * t)) * (1 / t)) <= 0.05 * bound, `± ${bound}`);
    assert.ok(Math.abs(got - truth) <= 10 * bound, `Cov = ${got}, closed form ${truth}, stated ±${bound}`);
  });

  it('prints the warning in the CLI text, exit 0', () => {
    const r = cli(NEAR, false);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^warning: 1 value keeps fewer than 6 digits: Cov\(s0, s1\) = /m);
  });

  it('names nothing where the covariance keeps its digits (s = 2)', () => {
    const r = cli(2, true);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { covariance: Record<string, number>; warnings: Array<{ message: string }> };
    const truth = covariance(2);
    assert.ok(Math.abs(out.covariance['s0,s1'] - truth) <= 1e-14 * truth, `Cov = ${out.covariance['s0,s1']}`);
    assert.deepEqual(cancelling(out.warnings.map((w) => w.message)), []);
  });

  it("puts the warning in the addon's run result, fresh and from the memory cache", async () => {
    const cacheDir = tempDir('moment-accuracy-cache');
    const engine = new Engine();
    engine.configure({ cacheDir });
    try {
      const model = JSON.stringify(mixture(NEAR));
      const options = { params: { p1: t }, covariances: [['s0', 's1']] as Array<[string, string]> };
      const fresh = await engine.run(model, options);
      const reused = await engine.run(model, options);
      assert.equal(reused.reused, true);
      for (const r of [fresh, reused]) {
        const doubts = cancelling(r.warnings.map((w) => w.message));
        assert.equal(doubts.length, 1, JSON.stringify(r.warnings));
        assert.match(doubts[0], /Cov\(s0, s1\) = /);
        assert.equal(
          r.warnings.find((w) => w.message === doubts[0])?.site,
          -1,
          'a warning about the run as a whole has no site',
        );
      }
    } finally {
      await engine.clearCaches();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

/**
 * The mixture with B's rate in the second branch a parameter of its own (p2 = u, p1 = t):
 * Cov[A, B] = (1/4)(3/4)·(2/(3t))·(1/t − 1/u) = (u − t)/(8·t²·u), which cancels as u → t
 * while E[A]·E[B] stays ≈ 1/(2t²): one cached trace, ordinary at one θ, cancelling at another.
 */
function mixtureOfTwo(): PhasicGraph {
  return {
    ...mixture(1),
    param_length: 2,
    param_edges: [
      [1, 3, 1, 0],
      [2, 4, 3, 0],
      [3, 5, 1, 0],
      [4, 5, 0, 1],
    ],
  };
}
const covarianceAt = (u: number) => (u - t) / (8 * t * t * u);

describe("an evaluation's variances and covariances that cancel (decision 112)", () => {
  const near = t * NEAR; // u − t is exact (Sterbenz), so the closed form is exact too
  const pairs: Array<[string, string]> = [['s0', 's1']];

  it('names Cov(s0, s1) in impreciseMoments at the θ where it cancels, not at an ordinary θ', async () => {
    const cacheDir = tempDir('moment-accuracy-evaluate');
    const engine = new Engine();
    engine.configure({ cacheDir });
    try {
      const run = await engine.run(JSON.stringify(mixtureOfTwo()), {
        params: { p1: t, p2: 2 * t },
        covariances: pairs,
      });
      assert.equal(runMomentWarning(run.warnings), undefined, JSON.stringify(run.warnings));
      const [ordinary, cancelling, unasked] = [
        ...(await engine.evaluateMany(
          run.traceKey,
          [
            { p1: t, p2: 2 * t },
            { p1: t, p2: near },
          ],
          2,
          pairs,
        )),
        await engine.evaluate(run.traceKey, { p1: t, p2: near }, 2),
      ];
      assert.ok(
        Math.abs((ordinary.covariance['s0,s1'] as number) - covarianceAt(2 * t)) <= 1e-14 * covarianceAt(2 * t),
      );
      assert.equal(ordinary.impreciseMoments, undefined);
      // Only the asked covariance can cancel here; the variances keep their digits.
      assert.equal(unasked.impreciseMoments, undefined);

      const doubt = cancelling.impreciseMoments ?? '';
      assert.match(doubt, /^1 value keeps fewer than 6 digits: Cov\(s0, s1\) = [0-9.e-]+ \(about [01]\.\d digits, ±/);
      assert.doesNotMatch(doubt, /Var\(/);
      const clause = momentDoubt(doubt, 'Cov(s0, s1)') ?? '';
      assert.match(clause, /^Cov\(s0, s1\) = \S+ \(about [01]\.\d digits, ±[0-9.e+-]+\)$/);
      assert.equal(momentDoubt(doubt, 'Var(s0)'), undefined);
      const bound = stated(doubt, 'Cov(s0, s1)');
      assert.ok(Math.abs(bound - 2 ** -52 * 2 * (1 / (2 * t)) * (1 / t)) <= 0.05 * bound, `± ${bound}`);
      const got = cancelling.covariance['s0,s1'] as number;
      assert.ok(Math.abs(got - covarianceAt(near)) <= 10 * bound, `Cov = ${got}, closed form ${covarianceAt(near)}`);
    } finally {
      await engine.clearCaches();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it("is the run's own moment warning at the run's θ, found among its warnings", async () => {
    const cacheDir = tempDir('moment-accuracy-same');
    const engine = new Engine();
    engine.configure({ cacheDir });
    try {
      const run = await engine.run(JSON.stringify(mixtureOfTwo()), { params: { p1: t, p2: near }, covariances: pairs });
      const fromRun = runMomentWarning(run.warnings);
      assert.match(fromRun ?? '', /Cov\(s0, s1\) = /);
      const evaluated = await engine.evaluate(run.traceKey, { p1: t, p2: near }, 2, pairs);
      assert.equal(evaluated.impreciseMoments, fromRun);
    } finally {
      await engine.clearCaches();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
