// language-configuration.json: its patterns do what the editor relies on, and the
// models we ship are laid out the way its indentation rules would lay them out.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

// Tests run from out/test/grammar; the sources stay in the tree.
const ROOT = join(__dirname, '..', '..', '..');

interface LanguageConfiguration {
  comments: { lineComment: string; blockComment: [string, string] };
  brackets: Array<[string, string]>;
  autoClosingPairs: Array<{ open: string; close: string }>;
  surroundingPairs: Array<[string, string]>;
  wordPattern: string;
  indentationRules: { increaseIndentPattern: string; decreaseIndentPattern: string };
  onEnterRules: Array<{ beforeText: string; action: { indent: string } }>;
}

const config: LanguageConfiguration = JSON.parse(readFileSync(join(ROOT, 'language-configuration.json'), 'utf8'));
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const increase = new RegExp(config.indentationRules.increaseIndentPattern);
const decrease = new RegExp(config.indentationRules.decreaseIndentPattern);
const outdentAfter = config.onEnterRules
  .filter((r) => r.action.indent === 'outdent')
  .map((r) => new RegExp(r.beforeText));
const outdents = (line: string) => outdentAfter.some((re) => re.test(line));

describe('language configuration', () => {
  it('is the one package.json declares for the phasic language', () => {
    const language = manifest.contributes.languages.find((l: { id: string }) => l.id === 'phasic');
    assert.equal(language.configuration, './language-configuration.json');
  });

  it("has the language's comment tokens and bracket pairs", () => {
    assert.deepEqual(config.comments, { lineComment: '//', blockComment: ['/*', '*/'] });
    const pairs = [
      ['{', '}'],
      ['[', ']'],
      ['(', ')'],
    ];
    assert.deepEqual(config.brackets, pairs);
    assert.deepEqual(config.surroundingPairs, pairs);
    assert.deepEqual(
      config.autoClosingPairs.map((p) => [p.open, p.close]),
      pairs,
    );
  });

  it('selects whole names and numbers as words, never across a range operator', () => {
    const words = (s: string) => s.match(new RegExp(config.wordPattern, 'g'));
    assert.deepEqual(words('for i in 0..n-1'), ['for', 'i', 'in', '0', 'n', '1']);
    assert.deepEqual(words('rate 2.5E+4 * theta_2 + 1e-3'), ['rate', '2.5E+4', 'theta_2', '1e-3']);
    assert.deepEqual(words('s[i + j + 1] += 1'), ['s', 'i', 'j', '1', '1']);
  });

  it('indents after a rule header on its own line and after an open bracket', () => {
    for (const line of [
      'rule coalesce',
      'rule coalesce   // pairs',
      '  rule r',
      'start 0.5 {',
      '  rate theta * (',
      'reward r = sum(',
    ]) {
      assert.ok(increase.test(line), line);
    }
    for (const line of [
      'rule hop_right   when left > 0   rate jump      do left -= 1; right += 1',
      'reward tmrca = 1',
      'start 0.5 { x[0] = 2 }',
      '// rule in a comment',
      '  for i in 0..n-1',
      'const n = 4   // see (Kingman 1982',
    ]) {
      assert.ok(!increase.test(line), line);
    }
  });

  it('outdents a closing bracket and the line after a finished do clause', () => {
    for (const line of ['}', '  }', ')', '  ]']) assert.ok(decrease.test(line), line);
    assert.ok(!decrease.test('  x[1] = 1'));
    for (const line of ['  do k -= 1', '  do s[i] -= 1; s[j] -= 1; s[i + j + 1] += 1', '  do k -= 1   // one fewer']) {
      assert.ok(outdents(line), line);
    }
    // A trailing separator means more updates follow on the next line.
    for (const line of [
      '  do k -= 1;',
      '  do x -= 1,',
      '  do k -= 1; // more below',
      '  rate theta',
      'rule r when k > 1 rate 1 do k -= 1',
    ]) {
      assert.ok(!outdents(line), line);
    }
  });

  const examples = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.phasic'));
  for (const file of examples) {
    it(`examples/${file} is laid out as the indentation rules would lay it out`, () => {
      const lines = readFileSync(join(ROOT, 'examples', file), 'utf8').split('\n');
      const indent = (s: string) => s.length - s.trimStart().length;
      let checked = 0;
      lines.forEach((line, i) => {
        const next = lines.slice(i + 1).find((l) => l.trim() !== '');
        if (next === undefined) return;
        if (increase.test(line)) {
          assert.ok(indent(next) > indent(line), `${file}:${i + 2} should be indented`);
          checked++;
        }
        if (outdents(line)) {
          assert.ok(indent(next) < indent(line), `${file}:${i + 2} should be outdented`);
          checked++;
        }
      });
      const hasMultiLineRule = lines.some((l) => /^rule\s+\w+\s*$/.test(l));
      if (hasMultiLineRule) assert.ok(checked >= 2, `${file}: no rule layout checked`);
    });
  }
});
