// Names that are members of every JavaScript object (`constructor`, `__proto__`, …)
// are ordinary names of the language: the front end checks and compiles models that
// use them in every role, overrides reach them, and the command line runs them with
// --set and --param and reports their numbers under their own names.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseArgs } from '../../extension/cli/args';
import { analyze, compileModel, constantsOf } from '../../extension/language';
import { MEMBER_NAMES, memberNameModels, memberNameMoments, ownRecord } from './memberNames';

const CLI = join(__dirname, '..', '..', '..', 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'phasic-member-names-'));

function close(actual: number, expected: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual}, expected ${expected}`,
  );
}

describe('names of JavaScript object members', () => {
  for (const m of memberNameModels()) {
    const roles = `const ${m.constant}, param ${m.param}, state ${m.state}, rule ${m.rule}, reward ${m.reward}`;

    it(`checks and compiles ${roles}`, () => {
      const analysis = analyze(m.text, 'member_names.phasic');
      assert.deepEqual(analysis.diagnostics, []);
      assert.deepEqual(constantsOf(analysis), [{ name: m.constant, value: 3, integer: true }]);
      for (const name of MEMBER_NAMES) assert.equal(analysis.globals.get(name)?.name, name);
      const { model, diagnostics } = compileModel(m.text, 'member_names.phasic');
      assert.deepEqual(diagnostics, []);
      assert.deepEqual(
        model?.params.map((p) => p.name),
        [m.param],
      );
      assert.deepEqual(
        model?.variables.map((v) => v.name),
        [m.state],
      );
      assert.deepEqual(
        model?.rules.map((r) => r.name),
        [m.rule],
      );
      assert.deepEqual(
        model?.rewards.map((r) => r.name),
        ['time', m.reward],
      );
      assert.equal(model?.variables[0].hi, 3);
    });

    it(`overrides constant ${m.constant}, and refuses overrides of the other four names`, () => {
      const { model, diagnostics } = compileModel(m.text, 'member_names.phasic', ownRecord([[m.constant, 5]]));
      assert.deepEqual(diagnostics, []);
      assert.equal(model?.variables[0].hi, 5);
      for (const other of [m.param, m.state, m.rule, m.reward]) {
        const refused = compileModel(m.text, 'member_names.phasic', ownRecord([[other, 1]])).diagnostics;
        assert.equal(refused.length, 1, other);
        assert.equal(refused[0].code, 'bad-override');
        assert.match(refused[0].message, new RegExp(`\`${other}\` is a`));
      }
    });

    it(`runs through the CLI with --set ${m.constant}=4 --param ${m.param}=5`, () => {
      const file = join(dir, `${m.constant}.phasic`);
      writeFileSync(file, m.text);
      const r = spawnSync(
        process.execPath,
        [CLI, 'run', file, '--json', '--no-cache', '--set', `${m.constant}=4`, '--param', `${m.param}=5`],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr + r.stdout);
      const result = JSON.parse(r.stdout) as {
        vertices: number;
        params: Record<string, number>;
        moments: Record<string, number[]>;
        variance: Record<string, number>;
        ruleFirings: Record<string, number>;
      };
      const expected = memberNameMoments(4, 5);
      assert.deepEqual(Object.keys(result.params), [m.param]);
      assert.equal(result.params[m.param], 5);
      assert.deepEqual(Object.keys(result.moments), ['time', m.reward]);
      close(result.moments.time[0], expected.time[0], 'E[T]');
      close(result.moments.time[1], expected.time[1], 'E[T²]');
      close(result.variance.time, expected.variance, 'Var[T]');
      close(result.moments[m.reward][0], expected.reward, `E[${m.reward}]`);
      assert.deepEqual(Object.keys(result.ruleFirings), [m.rule]);
      assert.equal(result.ruleFirings[m.rule], 4); // states 0..3 each fire once
    });
  }

  it('parses --set and --param of every member name, once each', () => {
    for (const name of MEMBER_NAMES) {
      const args = parseArgs(['run', 'm.phasic', '--set', `${name}=2`, '--param', `${name}=3`]);
      assert.equal(args.command, 'run');
      if (args.command !== 'run') continue;
      assert.deepEqual(Object.entries(args.overrides), [[name, 2]]);
      assert.deepEqual(Object.entries(args.params), [[name, 3]]);
      assert.throws(
        () => parseArgs(['run', 'm.phasic', '--set', `${name}=2`, '--set', `${name}=3`]),
        new RegExp(`${name} is given twice`),
      );
      assert.throws(() => parseArgs([name, 'm.phasic']), new RegExp(`unknown command '${name}'`));
    }
  });
});
