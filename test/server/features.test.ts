// The language features' logic without a transport: what a run adds to diagnostics,
// hovers and lenses, completion scopes, rename rules and the outline.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyze } from '../../extension/language';
import { codeLenses, runSummary } from '../../extension/server/features/codeLens';
import { namesInScope } from '../../extension/server/features/completion';
import { neverFired } from '../../extension/server/features/diagnostics';
import { functionHover } from '../../extension/server/features/hover';
import { documentSymbols } from '../../extension/server/features/navigation';
import { renameEdit, renameProblem } from '../../extension/server/features/rename';

const SFS = `model kingman_sfs
const n = 6
param theta = 1.0
state s[n]
init s[0] = n
rule coalesce
  for i in 0..n-1, j in i..n-1
  when if i == j then s[i] >= 2 else s[i] >= 1 and s[j] >= 1
  rate theta * (if i == j then s[i] * (s[i] - 1) / 2 else s[i] * s[j])
  do s[i] -= 1; s[j] -= 1; s[i + j + 1] += 1
rule never when s[0] > 100 rate theta do s[0] -= 1
reward tmrca = 1
reward xi[k in 0..n-2] = s[k]
`;

const RUN = {
  vertices: 12,
  sccs: { count: 12 },
  moments: { time: [1.6666666666666667, 3.1] },
  ruleFirings: { coalesce: 25, never: 0 },
};

describe('language features', () => {
  const analysis = analyze(SFS, 'kingman_sfs.phasic');

  it('warns on rules that never fired in the last run, on the rule name', () => {
    assert.deepEqual(neverFired(analysis, undefined), []);
    const [d] = neverFired(analysis, RUN);
    assert.equal(d.code, 'rule-never-fired');
    assert.deepEqual(d.range, { start: { line: 10, character: 5 }, end: { line: 10, character: 10 } });
    assert.equal(d.severity, 2);
  });

  it('puts the run lens on the model line and a summary after a run', () => {
    assert.equal(runSummary(RUN), '12 vertices · 12 SCCs · E[time] = 1.66667');
    const lenses = codeLenses(analysis, 'file:///m.phasic', RUN);
    assert.deepEqual(
      lenses.map((l) => [l.range.start.line, l.command?.title]),
      [
        [0, 'Run hierarchical trace'],
        [0, '12 vertices · 12 SCCs · E[time] = 1.66667'],
      ],
    );
    assert.equal(codeLenses(analysis, 'file:///m.phasic', undefined).length, 1);
  });

  it('summarizes a run whose mean is infinite or undefined in words, never failing', () => {
    assert.equal(
      runSummary({ ...RUN, moments: { time: ['Infinity', 'Infinity'] } }),
      '12 vertices · 12 SCCs · E[time] = ∞',
    );
    assert.equal(runSummary({ ...RUN, moments: { time: ['NaN'] } }), '12 vertices · 12 SCCs · E[time] undefined');
    // A large finite mean keeps its exponent whole.
    assert.equal(
      runSummary({ ...RUN, moments: { time: [1.5e200, 'Infinity'] } }),
      '12 vertices · 12 SCCs · E[time] = 1.5e+200',
    );
    assert.equal(runSummary({ ...RUN, moments: { time: [1e300] } }), '12 vertices · 12 SCCs · E[time] = 1e+300');
    assert.equal(runSummary({ ...RUN, moments: { time: [2.5e-7] } }), '12 vertices · 12 SCCs · E[time] = 2.5e-7');
  });

  it('describes state variables by their place in the state vector', () => {
    const hover = analysis.hoverAt({ line: 3, character: 6 });
    assert.match(
      hover!.markdown,
      /array of shape \[6\], 6 cells; state vector cells 0\.\.5; bounds 0\.\.∞; initially 0/,
    );
    assert.match(analysis.hoverAt({ line: 12, character: 8 })!.markdown, /Reward family xi\[0\] … xi\[4\]/);
  });

  it('explains built-in functions on hover', () => {
    const text = 'state k = 3\nreward r = binom(k, 2)';
    const a = analyze(text, 'b.phasic');
    const hover = functionHover(a, { line: 1, character: 13 });
    assert.deepEqual(hover?.range, { start: { line: 1, character: 11 }, end: { line: 1, character: 16 } });
    assert.equal(
      (hover?.contents as { value: string } | undefined)?.value,
      'Built-in: `binom(n, k): binomial coefficient, 0 when k < 0 or k > n`',
    );
    assert.equal(functionHover(a, { line: 1, character: 3 }), null);
  });

  it('completes the loop variables of the rule around the cursor only', () => {
    const inRule = namesInScope(analysis, analysis.offsetAt({ line: 9, character: 5 })).map((s) => s.name);
    assert.deepEqual(inRule.sort(), ['i', 'j', 'n', 's', 'theta']);
    const outside = namesInScope(analysis, analysis.offsetAt({ line: 11, character: 15 })).map((s) => s.name);
    assert.deepEqual(outside.sort(), ['n', 's', 'theta']);
  });

  it('renames a loop variable within its rule, and refuses clashes', () => {
    const at = { line: 6, character: 6 }; // i
    assert.equal(renameProblem(analysis, at, 'a'), undefined);
    assert.equal(renameProblem(analysis, at, 'j'), '`j` is already declared (line 7).');
    assert.equal(renameProblem(analysis, at, 'n'), '`n` is already declared (line 2).');
    assert.equal(renameProblem(analysis, at, 'then'), '`then` is a keyword.');
    assert.equal(renameProblem(analysis, at, 'sum'), '`sum` is a built-in aggregate.');
    assert.equal(
      renameProblem(analysis, at, '2x'),
      '`2x` is not a valid name (letters, digits and _, not starting with a digit).',
    );
    const edits = renameEdit(analysis, 'file:///m.phasic', at, 'a').changes!['file:///m.phasic'];
    assert.equal(edits.length, 11); // the declaration, its use in j's range, 3 in when, 4 in rate, 2 in do
    assert.ok(edits.every((e) => e.newText === 'a'));
  });

  it('lists each of 100,000 rules with its own locals in the outline', () => {
    // Each rule's locals were found by filtering every symbol: a minute at this size,
    // with the engine process answering nothing else meanwhile.
    const rules = 100_000;
    const text = `model many\nstate x = 2\n${Array.from({ length: rules }, (_, i) => `rule r${i}\n  for k${i % 3} in 0..0\n  when x > 0\n  rate 1\n  do x -= 1\n`).join('')}`;
    const symbols = documentSymbols(analyze(text, 'many.phasic'));
    assert.equal(symbols.length, rules + 2);
    symbols.slice(2).forEach((rule, i) => {
      assert.equal(rule.name, `r${i}`);
      assert.deepEqual(
        rule.children?.map((c) => c.name),
        [`k${i % 3}`],
      );
    });
  });

  it('lists declarations with rule locals as children in the outline', () => {
    const symbols = documentSymbols(analysis);
    assert.deepEqual(
      symbols.map((s) => s.name),
      ['kingman_sfs', 'n', 'theta', 's', 'coalesce', 'never', 'tmrca', 'xi'],
    );
    assert.deepEqual(
      symbols[4].children?.map((c) => c.name),
      ['i', 'j'],
    );
  });
});
