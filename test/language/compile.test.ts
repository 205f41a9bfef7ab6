// What the compiler emits, checked by running it: expressions, aggregates, steps,
// overrides, start blocks, reward families and sites.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CompiledModel, compileModel } from '../../extension/language';
import { explore, run, transitions } from './vm';

function model(text: string, overrides: Record<string, number> = {}): CompiledModel {
  const { model, diagnostics } = compileModel(text, 'test.phasic', overrides);
  assert.deepEqual(
    diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  assert.ok(model);
  return model;
}

/** Evaluates reward `name` of a model on a state. */
function reward(m: CompiledModel, name: string, state: number[]): number {
  const r = m.rewards.find((x) => x.name === name)!;
  return run(r.code, state, new Array(r.locals).fill(0));
}

describe('compiler', () => {
  const arrays = 'const n = 4\nstate s[n]\nstate c[2][3]\n';

  it('evaluates arithmetic, functions and conditionals as written', () => {
    const m = model(
      arrays +
        [
          'reward ra = s[0] * 2 + s[1] / 4 - 7 % 3',
          'reward rb = min(s[0], s[1], 5) + max(s[2], 1) + abs(-s[3]) + floor(s[0] / 3) + ceil(s[0] / 3)',
          'reward rc = binom(s[0], 2) + binom(s[0], s[0] + 1)',
          'reward rd = if s[0] > 2 and not (s[1] == 0 or s[2] != 0) then 10 else -1',
          'reward re = c[1][2] + c[0][1] * 100',
        ].join('\n'),
    );
    const state = [5, 2, 0, 3, 0, 7, 0, 0, 0, 4];
    assert.equal(reward(m, 'ra', state), 5 * 2 + 2 / 4 - 1);
    assert.equal(reward(m, 'rb', state), 2 + 1 + 3 + 1 + 2);
    assert.equal(reward(m, 'rc', state), 10);
    assert.equal(reward(m, 'rd', state), 10);
    assert.equal(reward(m, 're', state), 4 + 700);
  });

  it('compiles aggregates to loops and sum(NAME) over the whole array', () => {
    const m = model(
      arrays +
        [
          'reward total = sum(s) + sum(c) * 1000',
          'reward weighted = sum(i in 0..n-1: (i + 1) * s[i])',
          'reward pairs = count(i in 0..n-1, j in i + 1..n-1: s[i] > 0 and s[j] > 0)',
          'reward some = if any(i in 0..n-1: s[i] > 4) then 1 else 0',
          'reward every = if all(i in 0..n-1: s[i] >= 0) then 1 else 0',
          'reward none = if all(i in 0..n-1: s[i] > 1) then 1 else 0',
        ].join('\n'),
    );
    const state = [5, 2, 0, 3, 1, 0, 0, 0, 0, 4];
    assert.equal(reward(m, 'total', state), 10 + 5000);
    assert.equal(reward(m, 'weighted', state), 5 + 4 + 0 + 12);
    assert.equal(reward(m, 'pairs', state), 3);
    assert.equal(reward(m, 'some', state), 1);
    assert.equal(reward(m, 'every', state), 1);
    assert.equal(reward(m, 'none', state), 0);
  });

  it('folds constants and expands reward families with the family variable folded', () => {
    const m = model('const n = 3\nconst half = n / 2\nstate s[n]\nreward xi[k in 0..n-1] = s[k] * half', { n: 4 });
    assert.deepEqual(
      m.rewards.map((r) => r.name),
      ['time', 'xi[0]', 'xi[1]', 'xi[2]', 'xi[3]'],
    );
    assert.deepEqual(m.rewards[3].code, [3, 2, 0, 2, 9]); // CELL 2, CONST 2, MUL
  });

  it('splits a rate into one program per coefficient of the linear form', () => {
    const m = model(
      'param a\nparam b\nstate k in 0..3 = 3\nrule r when k > 0 rate 2 + a * k + (if k == 3 then b else 0) - a / 2 do k -= 1',
    );
    const [c0, ca, cb] = m.rules[0].rate;
    assert.equal(run(c0!, [3]), 2);
    assert.equal(run(ca!, [3]), 3 - 0.5);
    assert.equal(run(cb!, [3]), 1);
    assert.equal(run(cb!, [2]), 0);
  });

  it('evaluates let steps, when steps and updates on the state before firing', () => {
    const m = model(
      'const n = 3\nparam a\nstate s[n]\ninit s[0] = 2\nrule move for i in 0..n-2 let j = i + 1 when s[i] > 0 rate a * s[i] do s[i] -= 1; s[j] += s[i]',
    );
    assert.deepEqual(
      m.rules[0].steps.map((s) => Object.keys(s)[0]),
      ['let', 'when'],
    );
    // s[j] += s[i] reads s[i] before the rule fires: (2,0,0) → (1,2,0).
    assert.deepEqual(transitions(m, [2, 0, 0]), [{ to: [1, 2, 0], rate: [0, 2], rule: 'move' }]);
  });

  it('applies updates in order, so s[i] -= 1; s[j] -= 1 with i == j subtracts 2', () => {
    const m = model(
      'const n = 2\nparam a\nstate s[n]\ninit s[0] = 3\nrule r for i in 0..n-1, j in i..n-1 when s[i] >= 2 rate a do s[i] -= 1; s[j] -= 1; s[1] += 1',
    );
    assert.deepEqual(
      transitions(m, [3, 0]).map((t) => t.to),
      [
        [1, 1],
        [2, 0],
      ],
    );
  });

  it('builds the initial states from defaults, init and start blocks, with their sites', () => {
    const text =
      'state x[2] = 1\nstate y in 0..5\ninit x[1] = 2\nstart 0.25 { y = 3 }\nstart 0.75 { x[0] = 0; y = 1 }\nreward r = y + sum(x)';
    const m = model(text);
    assert.deepEqual(
      m.starts.map((s) => [s.probability, s.state]),
      [
        [0.25, [1, 2, 3]],
        [0.75, [0, 2, 1]],
      ],
    );
    assert.deepEqual(m.sites[m.starts[0].site], [3, 6, 3, 10]);
    assert.deepEqual(m.variables, [
      { name: 'x', offset: 0, dims: [2], lo: 0, hi: null },
      { name: 'y', offset: 2, dims: [], lo: 0, hi: 5 },
    ]);
  });

  it('places update and index sites on their source ranges', () => {
    const text =
      'const n = 2\nparam a\nstate s[n]\ninit s[0] = 1\nrule r for i in 0..n-1 when s[i] > 0 rate a do s[i + 1] += 1';
    const m = model(text);
    const update = m.rules[0].updates[0];
    assert.deepEqual(m.sites[update.site], [4, 47, 4, 60]);
    const indexSite = update.cell[update.cell.indexOf(5) + 2];
    assert.deepEqual(m.sites[indexSite], [4, 49, 4, 54]); // i + 1
    assert.deepEqual(m.sites[m.rules[0].site], [4, 5, 4, 6]);
    assert.deepEqual(m.sites[m.rules[0].rateSite], [4, 42, 4, 43]);
  });

  it('uses the file name when there is no model declaration, and counts firings like the engine', () => {
    const { model: m } = compileModel(
      'param a\nstate k = 2\nrule r when k > 0 rate a do k -= 1\nrule never when k > 5 rate a do k -= 1',
      '/x/y/birth.phasic',
      {},
    );
    assert.equal(m?.name, 'birth');
    assert.deepEqual(explore(m!).ruleFirings, { r: 2, never: 0 });
  });
});
