// The reference models check clean, compile, and, run through an independent
// interpreter of the program format, give the reference graphs and moments.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { analyze, compileModel, constantsOf } from '../../extension/language';
import { Op } from '../../extension/protocol/compiled-model';
import { expected, FIXTURES, fixture, MODEL_FILES, meanReward } from './fixtures';
import { edgeCount, explore, run, transitions } from './vm';

function compiled(name: string, overrides: Record<string, number> = {}) {
  const { model, diagnostics } = compileModel(fixture(name), `${name}.phasic`, overrides);
  assert.deepEqual(diagnostics, []);
  assert.ok(model);
  return model;
}

describe('reference models', () => {
  for (const name of MODEL_FILES) {
    it(`${name} checks without any diagnostic and compiles`, () => {
      const analysis = analyze(fixture(name), `${name}.phasic`);
      assert.deepEqual(analysis.diagnostics, []);
      const model = compiled(name);
      assert.equal(model.format, 'phasic-compiled-model');
      assert.equal(model.version, 1);
      assert.equal(model.name, name);
      assert.deepEqual(model.rewards[0], { name: 'time', locals: 0, code: [Op.CONST, 1] });
      // Every site index used anywhere points into the sites table.
      const sites = JSON.stringify(model).match(/"(?:site|rateSite)":(-?\d+)/g) ?? [];
      for (const s of sites) assert.ok(Number(s.split(':')[1]) < model.sites.length);
    });
  }

  it('kingman: the rate has only a θ coefficient, and it evaluates to k(k−1)/2', () => {
    const model = compiled('kingman');
    const rule = model.rules[0];
    assert.equal(rule.rate.length, 2);
    assert.equal(rule.rate[0], null);
    for (const k of [2, 3, 4]) assert.equal(run(rule.rate[1]!, [k]), (k * (k - 1)) / 2);
    assert.deepEqual(model.variables, [{ name: 'k', offset: 0, dims: [], lo: 1, hi: 4 }]);
    assert.deepEqual(model.starts, [{ probability: 1, state: [4], site: -1 }]);
    assert.deepEqual(model.params, [{ name: 'theta', default: 1, lo: null, hi: null }]);
  });

  it('kingman: graph and moments match the reference', () => {
    const ref = expected()['kingman.phasic'];
    const model = compiled('kingman', ref.overrides);
    const g = explore(model);
    assert.equal(g.states.length, ref.vertices);
    assert.ok(Math.abs(meanReward(model, g, 'tmrca', [1]) - ref.moments!.tmrca[0]) < 1e-12);
    assert.ok(Math.abs(meanReward(model, g, 'total_length', [1]) - ref.moments!.total_length[0]) < 1e-12);
  });

  it('kingman_sfs with n = 4: transitions of the initial state match a hand count', () => {
    const model = compiled('kingman_sfs', { n: 4 });
    assert.equal(model.stateLength, 4);
    assert.deepEqual(model.starts[0].state, [4, 0, 0, 0]);
    // From (4,0,0,0) the only pair is two singletons: rate θ·4·3/2 = 6 to (2,1,0,0).
    assert.deepEqual(transitions(model, [4, 0, 0, 0]), [{ to: [2, 1, 0, 0], rate: [0, 6], rule: 'coalesce' }]);
    // From (2,1,0,0): singleton pair (1 way) → (0,2,0,0); singleton with doubleton (2 ways) → (1,0,1,0).
    assert.deepEqual(transitions(model, [2, 1, 0, 0]), [
      { to: [0, 2, 0, 0], rate: [0, 1], rule: 'coalesce' },
      { to: [1, 0, 1, 0], rate: [0, 2], rule: 'coalesce' },
    ]);
    // Reachable for n = 4: (4,0,0,0) (2,1,0,0) (0,2,0,0) (1,0,1,0) (0,0,0,1), plus S.
    const g = explore(model);
    assert.deepEqual(g.states.slice(1), [
      [4, 0, 0, 0],
      [2, 1, 0, 0],
      [0, 2, 0, 0],
      [1, 0, 1, 0],
      [0, 0, 0, 1],
    ]);
    assert.deepEqual(
      model.rewards.map((r) => r.name),
      ['time', 'tmrca', 'xi[0]', 'xi[1]', 'xi[2]'],
    );
  });

  it('kingman_sfs with n = 6: 12 vertices and the SFS E[ξ_k] = 2/(k+1)', () => {
    const ref = expected()['kingman_sfs.phasic'];
    const model = compiled('kingman_sfs', ref.overrides);
    const g = explore(model);
    assert.equal(g.states.length, ref.vertices);
    for (const [name, [mean]] of Object.entries(ref.moments!)) {
      assert.ok(Math.abs(meanReward(model, g, name, [1]) - mean) < 1e-12, name);
    }
  });

  it('structured: E[tmrca] = d whatever the migration rate', () => {
    const model = compiled('structured');
    const g = explore(model);
    for (const mig of [0.5, 3]) assert.ok(Math.abs(meanReward(model, g, 'tmrca', [1, mig]) - 2) < 1e-12);
    const migrate = model.rules[1];
    // mig · x[i] / (d − 1): only the θ₂ coefficient, which is x[i] for d = 2.
    assert.equal(migrate.rate[0], null);
    assert.equal(migrate.rate[1], null);
    assert.equal(run(migrate.rate[2]!, [2, 0], [0, 1]), 2);
  });

  it('rabbits: 232 vertices, 841 edges and the reference extinction time', () => {
    const ref = expected()['rabbits.phasic'];
    const model = compiled('rabbits', ref.overrides);
    const g = explore(model);
    assert.equal(g.states.length, ref.vertices);
    assert.equal(edgeCount(g), ref.edges);
    const mean = meanReward(model, g, 'time_to_extinction', [1, 2, 4]);
    assert.ok(Math.abs(mean - ref.moments!.time_to_extinction[0]) < 1e-9, String(mean));
  });

  it('two_locus: 340 vertices and 2151 edges for n = 5; E[tmrca] for n = 3', () => {
    const ref = expected()['two_locus.phasic'];
    const g = explore(compiled('two_locus', ref.overrides));
    assert.equal(g.states.length, ref.vertices);
    assert.equal(edgeCount(g), ref.edges);
    const small = expected()['two_locus.phasic n=3'];
    const model = compiled('two_locus', small.overrides);
    const g3 = explore(model);
    assert.equal(g3.states.length, small.vertices);
    assert.ok(Math.abs(meanReward(model, g3, 'tmrca', [1, 1]) - small.moments!.tmrca[0]) < 1e-6);
  });

  it('the engine test fixtures are exactly what the compiler emits today', () => {
    // test/fixtures/engine holds compiled models so the engine tests run without the
    // front end; this keeps them from drifting away from the compiler.
    const cases: Array<[fixture: string, model: string, overrides: Record<string, number>]> = [
      ['kingman', 'kingman', { n: 4 }],
      ['kingman_sfs', 'kingman_sfs', { n: 6 }],
      ['structured', 'structured', { n: 2, d: 2 }],
      ['structured_n8_d3', 'structured', { n: 8, d: 3 }],
      ['two_locus', 'two_locus', { n: 5 }],
      ['two_locus_n6', 'two_locus', { n: 6 }],
      ['rabbits', 'rabbits', { N: 20 }],
    ];
    for (const [file, name, overrides] of cases) {
      const stored = JSON.parse(readFileSync(join(FIXTURES, '..', 'engine', `${file}.json`), 'utf8'));
      assert.deepEqual(compiled(name, overrides), stored, file);
    }
  });

  it('constantsOf lists constants with their values and integer-ness', () => {
    assert.deepEqual(constantsOf(analyze(fixture('structured'), 'structured.phasic')), [
      { name: 'n', value: 2, integer: true },
      { name: 'd', value: 2, integer: true },
    ]);
  });
});
