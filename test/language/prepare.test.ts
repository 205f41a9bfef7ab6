// One preparation of a model file for the engine: the CLI (extension/cli/model.ts)
// and the engine process (extension/server/models.ts) hand the engine the same text
// and the same source sites for every example and fixture, and a `.phasic` model is
// parsed once per preparation, with or without constant overrides.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadModel } from '../../extension/cli/model';
import { analyze, constantsOf, prepareModel } from '../../extension/language';
import { parse } from '../../extension/language/parser';
import { prepareModel as prepareForServer } from '../../extension/server/models';

const ROOT = join(__dirname, '..', '..', '..');
const FOLDERS = [
  join(ROOT, 'examples'),
  join(ROOT, 'test', 'fixtures', 'models'),
  join(ROOT, 'test', 'fixtures', 'engine'),
];
const MODELS = FOLDERS.flatMap((folder) =>
  readdirSync(folder)
    .filter((f) => f.endsWith('.phasic') || (f.endsWith('.json') && f !== 'expected.json'))
    .map((f) => join(folder, f)),
);

describe('model preparation', () => {
  it('finds the examples and fixtures', () => {
    assert.ok(MODELS.filter((f) => f.endsWith('.phasic')).length >= 10, MODELS.join(', '));
    assert.ok(MODELS.filter((f) => f.endsWith('.json')).length >= 5, MODELS.join(', '));
  });

  for (const file of MODELS) {
    it(`gives the engine the same input from the CLI and the engine process: ${file.slice(ROOT.length + 1)}`, () => {
      const cli = loadModel(file, {});
      const server = prepareForServer(pathToFileURL(file).toString(), readFileSync(file, 'utf8'), {});
      assert.equal(server.engineText, cli.engineText);
      assert.deepEqual(server.sites, cli.sites);
      if (file.endsWith('.json')) {
        // A compiled model's own parameters, as the front end compiled them.
        const compiled = JSON.parse(readFileSync(file, 'utf8'));
        assert.ok(server.sites.length > 0);
        assert.deepEqual(
          server.spec.params.map((p) => p.name),
          compiled.params.map((p: { name: string }) => p.name),
        );
      }
    });
  }

  it('parses a .phasic model once, with or without overrides', () => {
    const text = readFileSync(join(ROOT, 'test', 'fixtures', 'models', 'structured.phasic'), 'utf8');
    for (const overrides of [{}, { n: 3 }, { n: 3, d: 2 }] as Array<Record<string, number>>) {
      let parses = 0;
      const counted: typeof parse = (t, sink) => {
        parses++;
        return parse(t, sink);
      };
      const prepared = prepareModel(text, 'structured.phasic', overrides, counted);
      assert.ok(prepared.ok);
      assert.equal(parses, 1, JSON.stringify(overrides));
    }
  });

  it('lists the constants with the values of the run: overrides, else the declared values', () => {
    const text =
      'model m\nconst n = 3\nconst twice = 2 * n\nparam r = 1\nstate k in 0..twice = 0\nrule up when k < twice rate r do k += 1\n';
    const declared = constantsOf(analyze(text, 'm.phasic'));
    assert.deepEqual(declared, [
      { name: 'n', value: 3, integer: true },
      { name: 'twice', value: 6, integer: true },
    ]);
    const prepared = prepareModel(text, 'm.phasic', { n: 4 });
    assert.ok(prepared.ok, prepared.ok ? '' : prepared.failure.message);
    assert.deepEqual(prepared.model.outline.constants, [
      { name: 'n', value: 4, integer: true },
      { name: 'twice', value: 6, integer: true },
    ]);
    // The run itself uses the override: k counts up to 2 · 4.
    assert.deepEqual(JSON.parse(prepared.model.engineText).variables[0].hi, 8);
  });

  it('reports a model that does not prepare, with where and how many errors', () => {
    const bad = prepareModel('model m\nstate k in 0..2 = 0\nrule up rate q do k += 1\nreward r = z\n', 'm.phasic', {});
    assert.equal(bad.ok, false);
    if (bad.ok) return;
    assert.equal(bad.failure.at?.line, 2);
    assert.equal(bad.failure.moreErrors, 1);
    const json = prepareModel('{"format": ', 'broken.json', {});
    assert.equal(json.ok, false);
    if (!json.ok) assert.match(json.failure.message, /^broken\.json is not valid JSON: /);
  });
});
