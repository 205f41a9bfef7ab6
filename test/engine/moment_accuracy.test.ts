// A variance or covariance that is the difference of two nearly equal moments is
// recomputed in quadruple precision (decision 111, engine/moment_refinement.hpp) and
// named only where even that leaves it too few digits (decision 110,
// engine/moment_accuracy.hpp), in a run's warnings and in an evaluation's
// impreciseMoments (decision 112), through the real CLI and the real addon, against
// mpmath's value at 60 digits (no number from the engine).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Engine } from '../../extension/engine/engine';
import type { Moment } from '../../extension/protocol/engine';
import { momentDoubt, runMomentWarning } from '../../extension/protocol/moment';
import { CLI, tempDir } from './helpers';
import { mixture } from './mixture';

const t = 0.37;
const NEAR = 1 + 2 ** -46;
const NEARER = 1 + 2 ** -52;
/**
 * Cov[A, B] = (1/4)(3/4)(1/t − 1/(3t))(1/t − 1/(s·t + δ)) by mpmath at 60 digits with t
 * the double 0.37, by this closed form and by αU(D_A U D_B + D_B U D_A)1 − E[A]·E[B]
 * (agreeing to 25 digits), rounded to double. Double printed 1.3767e-14 for the first
 * and 0 for the second (decision 110); at δ = 1e-20, s·t + δ = t in double.
 */
const TRUTH = {
  near: 1.2975579542733567e-14,
  nearer: 2.027434303552148e-16,
  offset20: 2.4677709118907074e-20,
  offset40: 2.4677709118907075e-40,
};
/**
 * The recomputation's bound (engine/moment_refinement.hpp) for this graph: κ = (2·1 + 2 + 4)·2 = 16
 * (components of one state, two rates out of S, two transient components on a path), S = V + 4 = 10,
 * so (2κ + S)·2⁻¹¹²·(E[AB] + E[A]·E[B]) ≈ 42·2⁻¹¹²·7.31 ≈ 5.9e-32, below 1e-31 with the factors
 * (1 + 2e); then the rounding to double, 2⁻⁵³ of the value, and the truth's own, as much again.
 */
const near = (got: Moment | undefined, truth: number, what: string) =>
  assert.ok(
    typeof got === 'number' && Math.abs(got - truth) <= 1e-31 + 2 ** -52 * Math.abs(truth),
    `${what}: ${got}, mpmath ${truth}`,
  );

const dir = tempDir('moment-accuracy');
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (s: number, offset = false) => {
  const path = join(dir, `mixture-${s}-${offset}.json`);
  writeFileSync(path, JSON.stringify(mixture(s, offset)));
  return path;
};
const cli = (path: string, params: string[], json: boolean) =>
  spawnSync(
    process.execPath,
    [
      CLI,
      'run',
      path,
      ...params.flatMap((p) => ['--param', p]),
      '--no-cache',
      '--covariance',
      's0,s1',
      ...(json ? ['--json'] : []),
    ],
    { encoding: 'utf8' },
  );
type RunJson = { covariance: Record<string, number>; warnings: Array<{ message: string }> };
const cancelling = (messages: string[]) => messages.filter((m) => /nearly equal moments/.test(m));

describe('variances and covariances that cancel (decisions 110, 111)', () => {
  it('prints Cov of nearly independent rewards recomputed to its last digit, with no warning left', () => {
    for (const [s, truth] of [
      [NEAR, TRUTH.near],
      [NEARER, TRUTH.nearer],
    ]) {
      const r = cli(file(s), [`p1=${t}`], true);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as RunJson;
      near(out.covariance['s0,s1'], truth, `Cov at s = ${s}`);
      assert.deepEqual(cancelling(out.warnings.map((w) => w.message)), []);
    }
  });

  it('recomputes where the rates differ by less than double keeps (t + 1e-20), and the CLI text warns of nothing', () => {
    const path = file(1, true);
    const r = cli(path, [`p1=${t}`, 'p2=1e-20'], true);
    assert.equal(r.status, 0, r.stderr);
    near((JSON.parse(r.stdout) as RunJson).covariance['s0,s1'], TRUTH.offset20, 'Cov at δ = 1e-20');
    const text = cli(path, [`p1=${t}`, 'p2=1e-20'], false);
    assert.equal(text.status, 0, text.stderr);
    assert.doesNotMatch(text.stdout, /nearly equal moments/);
  });

  it('still names a covariance whose terms agree beyond quadruple precision (t + 1e-40), with a ± that holds', () => {
    const r = cli(file(1, true), [`p1=${t}`, 'p2=1e-40'], true);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as RunJson;
    const doubts = cancelling(out.warnings.map((w) => w.message));
    assert.equal(doubts.length, 1, JSON.stringify(out.warnings));
    assert.match(
      doubts[0],
      /^1 value keeps fewer than 6 digits: Cov\(s0, s1\) = \S+ \((no digit left|about -[0-9.]+ digits), ±/,
    );
    assert.match(doubts[0], /recomputed in quadruple precision/);
    const bound = Number(/±([0-9.e+-]+)\)/.exec(doubts[0])?.[1]);
    // (2κ + S)·2⁻¹¹²·(E[AB] + E[A]·E[B]): far below double's 1.6e-15, far above the 2.5e-40 left.
    assert.ok(bound > 1e-38 && bound < 1e-28, `± ${bound}`);
    const got = out.covariance['s0,s1'];
    assert.ok(Math.abs(got - TRUTH.offset40) <= bound, `Cov = ${got}, mpmath ${TRUTH.offset40}, stated ±${bound}`);
  });

  it('names nothing where the covariance keeps its digits (s = 2)', () => {
    const r = cli(file(2), [`p1=${t}`], true);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as RunJson;
    const truth = 1 / (16 * t * t);
    assert.ok(Math.abs(out.covariance['s0,s1'] - truth) <= 1e-14 * truth, `Cov = ${out.covariance['s0,s1']}`);
    assert.deepEqual(cancelling(out.warnings.map((w) => w.message)), []);
  });

  it("gives the addon's run the same bits fresh, from the memory cache and from the disk cache", async () => {
    const cacheDir = tempDir('moment-accuracy-cache');
    const model = JSON.stringify(mixture(NEAR));
    const options = { params: { p1: t }, covariances: [['s0', 's1']] as Array<[string, string]> };
    const first = new Engine();
    first.configure({ cacheDir });
    const second = new Engine();
    second.configure({ cacheDir });
    try {
      const fresh = await first.run(model, options);
      const memory = await first.run(model, options);
      const disk = await second.run(model, options);
      assert.equal(memory.reused, true);
      assert.equal(disk.reused, true);
      for (const r of [fresh, memory, disk]) {
        assert.equal(r.covariance['s0,s1'], fresh.covariance['s0,s1']);
        assert.deepEqual(cancelling(r.warnings.map((w) => w.message)), []);
      }
      near(fresh.covariance['s0,s1'], TRUTH.near, 'Cov');
    } finally {
      await first.clearCaches();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('recomputes an evaluation of the cached trace, and names there what keeps no digit (impreciseMoments)', async () => {
    const cacheDir = tempDir('moment-accuracy-evaluate');
    const engine = new Engine();
    engine.configure({ cacheDir });
    try {
      const run = await engine.run(JSON.stringify(mixture(1, true)), {
        params: { p1: t, p2: 1 },
        covariances: [['s0', 's1']],
      });
      assert.deepEqual(cancelling(run.warnings.map((w) => w.message)), []);
      const [kept, lost] = await engine.evaluateMany(
        run.traceKey,
        [
          { p1: t, p2: 1e-20 },
          { p1: t, p2: 1e-40 },
        ],
        2,
        [['s0', 's1']],
      );
      near(kept.covariance['s0,s1'], TRUTH.offset20, 'evaluated Cov at δ = 1e-20');
      assert.equal(kept.impreciseMoments, undefined);
      assert.match(
        lost.impreciseMoments ?? '',
        /^1 value keeps fewer than 6 digits: Cov\(s0, s1\) = .*recomputed in quadruple precision/,
      );
    } finally {
      await engine.clearCaches();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe("an evaluation's moment warning (decision 112)", () => {
  const pairs: Array<[string, string]> = [['s0', 's1']];
  // B's rate on the second branch is t + δ with δ = p2; at δ = t, u = 2t and nothing cancels.
  const covarianceAt = (u: number) => (u - t) / (8 * t * t * u);

  it('names only the asked value that keeps no digit, and nothing at an ordinary θ', async () => {
    const cacheDir = tempDir('moment-accuracy-named');
    const engine = new Engine();
    engine.configure({ cacheDir });
    try {
      const run = await engine.run(JSON.stringify(mixture(1, true)), { params: { p1: t, p2: t }, covariances: pairs });
      assert.equal(runMomentWarning(run.warnings), undefined, JSON.stringify(run.warnings));
      const [ordinary, lost] = await engine.evaluateMany(
        run.traceKey,
        [
          { p1: t, p2: t },
          { p1: t, p2: 1e-40 },
        ],
        2,
        pairs,
      );
      const unasked = await engine.evaluate(run.traceKey, { p1: t, p2: 1e-40 }, 2);
      const cov = ordinary.covariance['s0,s1'] as number;
      assert.ok(Math.abs(cov - covarianceAt(2 * t)) <= 1e-14 * covarianceAt(2 * t), `Cov = ${cov}`);
      assert.equal(ordinary.impreciseMoments, undefined);
      // Only the asked covariance cancels here; the variances keep their digits.
      assert.equal(unasked.impreciseMoments, undefined);
      const clause = momentDoubt(lost.impreciseMoments, 'Cov(s0, s1)') ?? '';
      assert.match(clause, /^Cov\(s0, s1\) = \S+ \((no digit left|about [0-9.]+ digits), ±[0-9.e+-]+\)$/);
      assert.equal(momentDoubt(lost.impreciseMoments, 'Var(s0)'), undefined);
      assert.equal(momentDoubt(lost.impreciseMoments, 'Var(s1)'), undefined);
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
      const theta = { p1: t, p2: 1e-40 };
      const run = await engine.run(JSON.stringify(mixture(1, true)), { params: theta, covariances: pairs });
      const fromRun = runMomentWarning(run.warnings);
      assert.match(fromRun ?? '', /Cov\(s0, s1\) = /);
      const evaluated = await engine.evaluate(run.traceKey, theta, 2, pairs);
      assert.equal(evaluated.impreciseMoments, fromRun);
    } finally {
      await engine.clearCaches();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
