// The example models check clean, the reference ones say exactly what the test
// fixtures say (only comments may differ), and the numbers quoted in the headers
// of the two teaching models are what their graphs give.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseSfs } from '../../extension/fit/sfsFile';
import { analyze, compileModel } from '../../extension/language';
import { DiagnosticSink } from '../../extension/language/diagnostics';
import { tokenize } from '../../extension/language/lexer';
import { computeLineStarts } from '../../extension/language/syntax';
import { fixture, MODEL_FILES, meanReward } from '../language/fixtures';
import { edgeCount, explore } from '../language/vm';

// Tests run from out/test/examples; the examples stay in the source tree.
const EXAMPLES = join(__dirname, '..', '..', '..', 'examples');

function example(name: string): string {
  return readFileSync(join(EXAMPLES, `${name}.phasic`), 'utf8');
}

/** The model without comments and layout: its token texts. */
function tokenTexts(text: string): string[] {
  return tokenize(text, computeLineStarts(text), new DiagnosticSink()).map((t) => t.text);
}

function compiled(name: string) {
  const { model, diagnostics } = compileModel(example(name), `${name}.phasic`);
  assert.deepEqual(diagnostics, []);
  assert.ok(model);
  return model;
}

const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${actual} != ${expected}`);

describe('example models', () => {
  const names = readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.phasic'))
    .map((f) => f.replace(/\.phasic$/, ''));

  it('include every reference model and the README lists every file', () => {
    for (const m of MODEL_FILES) assert.ok(names.includes(m), m);
    const readme = readFileSync(join(EXAMPLES, 'README.md'), 'utf8');
    for (const n of names) assert.ok(readme.includes(`\`${n}.phasic\``), `README misses ${n}.phasic`);
  });

  for (const name of names) {
    it(`${name} checks without diagnostics, starts with a header comment and names itself`, () => {
      const text = example(name);
      assert.match(text, /^\/\/ /);
      const analysis = analyze(text, `${name}.phasic`);
      assert.deepEqual(analysis.diagnostics, []);
      assert.equal(analysis.modelName, name);
      compiled(name);
    });
  }

  it('every spectrum (.fs) reads, is listed in the README and has its model', () => {
    const readme = readFileSync(join(EXAMPLES, 'README.md'), 'utf8');
    const spectra = readdirSync(EXAMPLES).filter((f) => f.endsWith('.fs'));
    assert.ok(spectra.length > 0);
    for (const f of spectra) {
      const s = parseSfs(readFileSync(join(EXAMPLES, f), 'utf8'));
      assert.ok(s.n >= 2, f);
      assert.ok(readme.includes(`\`${f}\``), `README misses ${f}`);
      assert.ok(names.includes(f.replace(/\.fs$/, '')), `${f} has no model of its name`);
    }
  });

  for (const name of MODEL_FILES) {
    it(`${name} differs from its test fixture only in comments and layout`, () => {
      assert.deepEqual(tokenTexts(example(name)), tokenTexts(fixture(name)));
    });
  }

  it('two_deme_sampling: the mixed start gives E[T] = 2.5 and the per-deme and apart rewards', () => {
    const model = compiled('two_deme_sampling');
    assert.deepEqual(
      model.starts.map((s) => [s.probability, s.state]),
      [
        [0.5, [2, 0]],
        [0.5, [1, 1]],
      ],
    );
    const g = explore(model);
    assert.deepEqual(g.states.slice(1), [
      [2, 0],
      [1, 1],
      [1, 0],
      [0, 2],
      [0, 1],
    ]);
    assert.equal(edgeCount(g), 8);
    const params = [1, 0.5];
    close(meanReward(model, g, 'tmrca', params), 2.5);
    close(meanReward(model, g, 'lineages_in[0]', params), 2.75);
    close(meanReward(model, g, 'lineages_in[1]', params), 2.25);
    close(meanReward(model, g, 'apart', params), 1.5);
    // Strobeck: E[T | one deme] = d whatever the migration rate; E[T | apart] = d + (d-1)/(2 mig).
    for (const mig of [0.1, 0.5, 3]) close(meanReward(model, g, 'tmrca', [1, mig]), (2 + 2 + 1 / (2 * mig)) / 2);
  });

  it('queue: draining a full M/M/2/5 queue takes 5 on average, with the rewards its header quotes', () => {
    const model = compiled('queue');
    const g = explore(model);
    assert.deepEqual(g.states.slice(1), [[5], [4], [3], [2], [1], [0]]);
    const params = [1, 1];
    close(meanReward(model, g, 'time_to_empty', params), 5);
    close(meanReward(model, g, 'customer_time', params), 15);
    close(meanReward(model, g, 'time_full', params), 1);
    close(meanReward(model, g, 'busy_servers[1]', params), 5);
    close(meanReward(model, g, 'busy_servers[2]', params), 4);
    // Without arrivals the servers just work off 5 customers: 1/2 + 1/2 + 1/2 + 1/2 + 1.
    close(meanReward(model, g, 'time_to_empty', [0, 1]), 3);
  });
});
