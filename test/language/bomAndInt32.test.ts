// A UTF-8 byte order mark opens a file like whitespace, with positions as the editor
// counts them (VS Code strips the mark from the document); and the 32-bit range of
// state cells is [-2147483648, 2147483647], its lower end written as `-2147483648`.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { analyze, compileModel } from '../../extension/language';

const CLI = join(__dirname, '..', '..', '..', 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'phasic-bom-int32-'));
const BOM = '\uFEFF';
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function errors(text: string) {
  return analyze(text, 'm.phasic').diagnostics.filter((d) => d.severity === 'error');
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A cell that starts at -2147483648 and steps up twice at rate 1: E[T] = 2, E[T²] = 6. */
const LOWEST = [
  'model lowest',
  'state x in -2147483648..2147483647 = -2147483648',
  'rule up when x < -2147483646 rate 1 do x += 1',
  'reward depth = x + 2147483648',
  '',
].join('\n');

describe('byte order mark', () => {
  it('is skipped by the front end, with positions in the text it was given', () => {
    const text = `${BOM}model m\nstate s = 1\nreward r = q\n`;
    const diagnostics = errors(text);
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.range.start]),
      [['unknown-name', { line: 2, character: 11 }]],
    );
    const first = errors(`${BOM}reward r = q`);
    // The mark is one UTF-16 unit of that text.
    assert.deepEqual(
      first.map((d) => [d.code, d.range.start]),
      [['unknown-name', { line: 0, character: 12 }]],
    );
    assert.deepEqual(compileModel(`${BOM}${LOWEST}`, 'lowest.phasic').diagnostics, []);
  });

  it('is only whitespace at the very start: elsewhere it is an unexpected character', () => {
    const diagnostics = errors(`model m\n${BOM}state s`);
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.range.start]),
      [['invalid-character', { line: 1, character: 0 }]],
    );
  });

  it('the CLI reads a file with one and places errors in the columns an editor shows', () => {
    const bad = file('bad.phasic', `${BOM}reward r = q\n`);
    const checked = cli('check', bad, '--json');
    assert.equal(checked.status, 1, checked.stderr);
    const { diagnostics } = JSON.parse(checked.stdout) as {
      diagnostics: Array<{ line: number; column: number; code: string }>;
    };
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.line, d.column]),
      [['unknown-name', 1, 12]],
    );
    const good = file('good.phasic', `${BOM}${LOWEST}`);
    assert.equal(cli('check', good).status, 0);
    const run = cli('run', good, '--json', '--no-cache');
    assert.equal(run.status, 0, run.stderr + run.stdout);
    const result = JSON.parse(run.stdout) as { vertices: number; moments: Record<string, number[]> };
    assert.deepEqual(result.moments.time, [2, 6]);
  });
});

describe('32-bit integers', () => {
  it('accepts -2147483648 wherever an integer is required, however it is written', () => {
    for (const lowest of ['-2147483648', '-(2147483648)', '0 - 2147483648', '-2147483647 - 1']) {
      const text = `const low = ${lowest}\nstate x in low..${INT32_MAX} = ${lowest}\ninit x = ${lowest}\nstate y[2] = 0\nrule r when x == low rate 1 do y[0] += 1\n`;
      const { model, diagnostics } = compileModel(text, 'low.phasic');
      assert.deepEqual(diagnostics, [], lowest);
      assert.equal(model?.variables[0].lo, INT32_MIN);
      assert.equal(model?.variables[0].hi, INT32_MAX);
      assert.deepEqual(
        model?.starts.map((s) => s.state),
        [[INT32_MIN, 0, 0]],
      );
    }
  });

  it('refuses integers one beyond either end', () => {
    for (const [beyond, value] of [
      ['-2147483649', -2147483649],
      ['2147483648', 2147483648],
      ['-(2147483647 + 2)', -2147483649],
    ] as const) {
      const diagnostics = errors(`state x = ${beyond}`);
      assert.deepEqual(
        diagnostics.map((d) => d.message),
        [`\`${beyond}\` is ${value}, beyond the 32-bit range of state cells.`],
      );
    }
  });

  it('the engine explores a state at -2147483648 (through the CLI)', () => {
    const run = cli('run', file('lowest.phasic', LOWEST), '--json', '--no-cache');
    assert.equal(run.status, 0, run.stderr + run.stdout);
    const result = JSON.parse(run.stdout) as { vertices: number; moments: Record<string, number[]> };
    assert.deepEqual(result.moments.time, [2, 6]);
    // depth accumulates 0 for the first step's time and 1 for the second's: E = 0·1 + 1·1.
    assert.equal(result.moments.depth[0], 1);
  });
});
