// Every answer is the model's own (issue 11, point 1): models with one graph but
// other parameter defaults, parameter names or reward names, run one after another
// through the real addon, each answer with their own labels and defaults, from a
// rerun (the cached run summary) and from re-evaluation by trace key alike. Numbers
// are checked against closed forms.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Engine, type EngineFailure } from '../../extension/engine/engine';
import { compileModel } from '../../extension/language';
import type { RunResult } from '../../extension/protocol/engine';
import type { Moment } from '../../extension/protocol/moment';
import { assertClose, assertOnlyCachesHoldMemory, tempDir } from './helpers';

const engine = new Engine();

function compiled(text: string): string {
  const { model, diagnostics } = compileModel(text, 'labels.phasic');
  assert.ok(model, diagnostics.map((d) => d.message).join('\n'));
  return JSON.stringify(model);
}

/**
 * From k = 1 the process goes up to 2 at rate a; from 2 back to 1 at rate b, or out
 * (absorbed) at rate 1. {1, 2} is one component, recorded as a block with minSccSize 2.
 * E[time] = (b + 1)/a + 1; with reward k, E[∫k] = (b + 1)/a + 2.
 */
function cycle(o: { a?: string; b?: string; reward?: string } = {}): string {
  const a = o.a ?? 'a = 1.0';
  const b = o.b ?? 'b = 2.0';
  const [aName, bName] = [a.split(' ')[0], b.split(' ')[0]];
  return `model cycle
param ${a}
param ${b}
state k in 0..2 = 1
rule up
  when k == 1
  rate ${aName}
  do k = 2
rule down
  when k == 2
  rate ${bName}
  do k = 1
rule out
  when k == 2
  rate 1
  do k = 0
reward ${o.reward ?? 'level'} = k
`;
}

const expectedTime = (a: number, b: number) => (b + 1) / a + 1;
const expectedLevel = (a: number, b: number) => (b + 1) / a + 2;
const options = { minSccSize: 2, moments: 1 };

/** The first moments of a result, by reward name. */
function firstMoments(r: { moments: Record<string, Moment[]> }): Record<string, Moment> {
  return Object.fromEntries(Object.entries(r.moments).map(([name, m]) => [name, m[0]]));
}

function assertAnswer(
  r: { params: Record<string, number>; moments: Record<string, Moment[]> },
  params: Record<string, number>,
  moments: Record<string, number>,
  what: string,
): void {
  assert.deepEqual(r.params, params, `${what}: params`);
  assert.deepEqual(Object.keys(r.moments), Object.keys(moments), `${what}: reward names`);
  for (const [name, value] of Object.entries(moments))
    assertClose(firstMoments(r)[name], value, 1e-12, `${what}: E[${name}]`);
}

describe("every answer is the model's own", () => {
  before(async () => {
    engine.configure({ cacheDir: tempDir('labels'), memoryCacheBytes: 256 << 20 });
    await engine.clearCaches();
  });

  it('Kingman with another default, then the first again, answers with the first default', async () => {
    const kingman = (theta: string) => `model kingman
const n = 4
param theta = ${theta}
state k in 1..n = n
rule coalesce
  when k >= 2
  rate theta * k * (k - 1) / 2
  do k -= 1
reward tmrca = 1
`;
    // E[T_MRCA] for n = 4: Σ_{k=2..4} 2/(θ k (k−1)) = 1.5/θ.
    const first = await engine.run(compiled(kingman('1.0')), options);
    const other = await engine.run(compiled(kingman('2.0')), options);
    const again = await engine.run(compiled(kingman('1.0')), options);
    assert.equal(again.reused, true);
    assertAnswer(first, { theta: 1 }, { time: 1.5, tmrca: 1.5 }, 'first');
    assertAnswer(other, { theta: 2 }, { time: 0.75, tmrca: 0.75 }, 'other');
    assertAnswer(again, { theta: 1 }, { time: 1.5, tmrca: 1.5 }, 'first again');
    assertAnswer(
      await engine.evaluate(first.traceKey, {}, 1),
      { theta: 1 },
      { time: 1.5, tmrca: 1.5 },
      'evaluate first',
    );
    assertAnswer(
      await engine.evaluate(other.traceKey, {}, 1),
      { theta: 2 },
      { time: 0.75, tmrca: 0.75 },
      'evaluate other',
    );
  });

  it('alternates same-graph models: defaults, a renamed parameter, a renamed reward, and back', async () => {
    const A = compiled(cycle());
    const B = compiled(cycle({ a: 'a = 2.0' })); // another default
    const C = compiled(cycle({ b: 'beta = 2.0' })); // a renamed parameter
    const D = compiled(cycle({ reward: 'height' })); // a renamed reward
    const answerA = (a: number, b: number) => ({ time: expectedTime(a, b), level: expectedLevel(a, b) });

    const runs: Array<[string, RunResult]> = [];
    const run = async (name: string, text: string, params: Record<string, number> = {}) => {
      const r = await engine.run(text, { ...options, params });
      runs.push([name, r]);
      assertOnlyCachesHoldMemory(engine);
      return r;
    };

    const a1 = await run('A', A);
    assert.equal(a1.reused, false);
    assert.equal(a1.sccs.blocks, 1);
    assertAnswer(a1, { a: 1, b: 2 }, answerA(1, 2), 'A');

    const b1 = await run('B', B);
    assertAnswer(b1, { a: 2, b: 2 }, answerA(2, 2), 'B');
    // Same graph: the block is shared, only the labels differ.
    assert.equal(b1.sccs.recorded, 0);
    assert.equal(b1.sccs.cached, 1);

    const a2 = await run('A again', A);
    assert.equal(a2.reused, true);
    assertAnswer(a2, { a: 1, b: 2 }, answerA(1, 2), 'A after B');

    const c1 = await run('C', C, { beta: 5 });
    assertAnswer(c1, { a: 1, beta: 5 }, answerA(1, 5), 'C');

    const a3 = await run('A with b = 5', A, { b: 5 });
    assert.equal(a3.reused, true);
    assertAnswer(a3, { a: 1, b: 5 }, answerA(1, 5), 'A after C');

    const c2 = await run('C again', C);
    assert.equal(c2.reused, true);
    assertAnswer(c2, { a: 1, beta: 2 }, answerA(1, 2), 'C after A');

    const d1 = await run('D', D);
    assertAnswer(d1, { a: 1, b: 2 }, { time: expectedTime(1, 2), height: expectedLevel(1, 2) }, 'D');

    const a4 = await run('A last', A);
    assert.equal(a4.reused, true);
    assertAnswer(a4, { a: 1, b: 2 }, answerA(1, 2), 'A after D');

    // Each trace key answers with its own model's labels and defaults, whatever ran last.
    assert.equal(new Set([a1, b1, c1, d1].map((r) => r.traceKey)).size, 4, 'one trace key per labelling');
    for (const [name, r] of runs) assert.equal(r.traceKey, { A: a1, B: b1, C: c1, D: d1 }[name[0]]!.traceKey, name);
    assertAnswer(await engine.evaluate(a1.traceKey, {}, 1), { a: 1, b: 2 }, answerA(1, 2), 'evaluate A');
    assertAnswer(await engine.evaluate(b1.traceKey, {}, 1), { a: 2, b: 2 }, answerA(2, 2), 'evaluate B');
    assertAnswer(await engine.evaluate(c1.traceKey, { beta: 3 }, 1), { a: 1, beta: 3 }, answerA(1, 3), 'evaluate C');
    assertAnswer(
      await engine.evaluate(d1.traceKey, { a: 4 }, 1),
      { a: 4, b: 2 },
      { time: expectedTime(4, 2), height: expectedLevel(4, 2) },
      'evaluate D',
    );
    await assert.rejects(engine.evaluate(a1.traceKey, { beta: 3 }), (e: EngineFailure) =>
      /unknown parameter 'beta'.* a, b/.test(e.message),
    );
    await assert.rejects(engine.evaluate(c1.traceKey, { b: 3 }), (e: EngineFailure) =>
      /unknown parameter 'b'.* a, beta/.test(e.message),
    );
    await assert.rejects(engine.evaluate(d1.traceKey, {}, 1, [['level', 'time']]), (e: EngineFailure) =>
      /unknown reward 'level'/.test(e.message),
    );
    assertOnlyCachesHoldMemory(engine);
  });
});
