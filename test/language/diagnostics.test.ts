// Every diagnostic kind the front end reports: its code, severity, exact message and
// exact range, with no cascade of other errors.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyze, compileModel, type Diagnostic } from '../../extension/language';
import { MAX_REWARDS } from '../../extension/language/checker';
import { MAX_NAME_LENGTH } from '../../extension/language/lexer';
import { MAX_HEIGHT, MAX_NESTING } from '../../extension/language/parser';
import { marked } from './marked';

function expectOnly(
  diagnostics: Diagnostic[],
  source: string,
  code: string,
  message: string,
  severity: Diagnostic['severity'] = 'error',
) {
  const { range } = marked(source);
  const found = diagnostics.filter((d) => d.code === code);
  assert.equal(found.length, 1, `expected one ${code}, got ${JSON.stringify(diagnostics, null, 1)}`);
  assert.equal(found[0].message, message);
  assert.deepEqual(found[0].range, range);
  assert.equal(found[0].severity, severity);
  // No cascade: the only errors are the expected one.
  const otherErrors = diagnostics.filter((d) => d.severity === 'error' && d !== found[0]);
  assert.deepEqual(otherErrors, []);
}

/** Analyzes the marked source and checks the one diagnostic of `code`. */
function check(source: string, code: string, message: string, severity: Diagnostic['severity'] = 'error') {
  const { text } = marked(source);
  expectOnly(analyze(text, 'test.phasic').diagnostics, source, code, message, severity);
}

const PRELUDE = 'const n = 3\nparam a\nparam b\nstate k in 0..n = n\nstate s[n]\n';

describe('syntax diagnostics', () => {
  it('unterminated-comment', () =>
    check('model m\n⟦/*⟧ never closed', 'unterminated-comment', 'This `/*` comment is never closed with `*/`.'));
  it('invalid-character', () =>
    check('const n = 3 ⟦@⟧\nreward r = n', 'invalid-character', 'Unexpected character `@`.'));
  it('invalid-character outside printable ASCII gives the code point: lookalikes, invisible ones, bad UTF-8', () => {
    // Cyrillic а (U+0430) read "Unexpected character `а`", as if the Latin a were wrong;
    // a zero-width space read "Unexpected character `​`", an empty-looking quote.
    check(
      'const n = 3 ⟦а⟧\nreward r = n',
      'invalid-character',
      'Unexpected character `а` (U+0430): names are ASCII letters, digits and `_`.',
    );
    check('const n = 3⟦\u200b⟧\nreward r = n', 'invalid-character', 'Unexpected character U+200B (it does not print).');
    check('const n = 3 ⟦\0⟧\nreward r = n', 'invalid-character', 'Unexpected character U+0000 (it does not print).');
    check('const n = 3 ⟦→⟧\nreward r = n', 'invalid-character', 'Unexpected character `→` (U+2192).');
    check('const n = 3 ⟦😀⟧\nreward r = n', 'invalid-character', 'Unexpected character `😀` (U+1F600).');
    // A lone high surrogate is one character: its error took the space after it along.
    check(
      'const n = 3 ⟦\ud800⟧ \nreward r = n',
      'invalid-character',
      'Unexpected character U+D800 (it does not print).',
    );
    check(
      'const n = 3 ⟦\ufffd⟧\nreward r = n',
      'invalid-character',
      'Unexpected character U+FFFD: the file is not valid UTF-8 here.',
    );
  });
  it('name-too-long, and the messages after it stay short', () => {
    const long = 'a'.repeat(MAX_NAME_LENGTH + 1);
    check(
      `const ⟦${long}⟧ = 3\nreward r = 1`,
      'name-too-long',
      `This name has ${MAX_NAME_LENGTH + 1} characters; a name has at most ${MAX_NAME_LENGTH}.`,
    );
    const longest = 'a'.repeat(MAX_NAME_LENGTH);
    assert.deepEqual(analyze(`const ${longest} = 3\nreward r = ${longest}`, 'test.phasic').diagnostics, []);
    // A 1 MB name, unknown: every message was a megabyte (the CLI printed 1,000,053 bytes).
    const b = 'b'.repeat(1_000_000);
    const { diagnostics } = analyze(`reward r = ${b} + ${b}`, 'test.phasic');
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ['name-too-long', 'name-too-long', 'unknown-name', 'unknown-name'],
    );
    for (const d of diagnostics) assert.ok(d.message.length < 2 * MAX_NAME_LENGTH, d.message.slice(0, 80));
  });
  it('quotes a token of a megabyte by its first 39 characters', () => {
    // Both messages quoted the whole token: a megabyte each.
    const digits = '9'.repeat(1_000_000);
    check(
      `const n ⟦${digits}⟧\nreward r = 1`,
      'expected-token',
      `Expected \`=\` after the constant name, found \`${'9'.repeat(39)}…\`.`,
    );
    check(
      `const n = ⟦2${'x'.repeat(1_000_000)}⟧\nreward r = n`,
      'invalid-number',
      `\`2${'x'.repeat(38)}…\` is not a number; write a multiplication as \`2 * x\`.`,
    );
  });
  it('invalid-number', () =>
    check(
      'const n = ⟦2x⟧\nreward r = n',
      'invalid-number',
      '`2x` is not a number; write a multiplication as `2 * x`.',
    ));
  it('number-underflow: a nonzero literal that would read as 0', () =>
    check(
      'param a = ⟦1e-400⟧\nstate k in 0..1 = 1\nrule r when k > 0 rate a do k -= 1',
      'number-underflow',
      '`1e-400` is too small for a double (the least is 4.9e-324) and would read as 0; write 0 if 0 is meant.',
    ));
  it('expected-token', () =>
    check('const n ⟦3⟧\nreward r = 1', 'expected-token', 'Expected `=` after the constant name, found `3`.'));
  it('expected-expression, on the token found instead', () =>
    check('const n =\n⟦reward⟧ r = 1', 'expected-expression', 'Expected an expression, found `reward`.'));
  it('unexpected-token after a declaration', () =>
    check(
      'const n = 3 ⟦)⟧\nreward r = n',
      'unexpected-token',
      'Unexpected `)`: the `const` declaration should end here.',
    ));
  it('unexpected-token outside any declaration', () =>
    check(
      '⟦foo⟧\nreward r = 1',
      'unexpected-token',
      'Expected a declaration (`model`, `const`, `param`, `state`, `init`, `start`, `rule`, `absorb` or `reward`), found `foo`.',
    ));
  it('chained-comparison', () =>
    check(
      PRELUDE + 'absorb when 0 < k ⟦<⟧ 3',
      'chained-comparison',
      'Comparisons cannot be chained; write `a < b and b < c`.',
    ));
  it('missing-rate', () =>
    check(PRELUDE + 'rule ⟦r⟧ when k > 0 do k -= 1', 'missing-rate', 'Rule `r` needs a `rate` clause (before `do`).'));
  it('missing-updates', () =>
    check(
      PRELUDE + 'rule ⟦r⟧ when k > 0 rate a\nreward t = 1',
      'missing-updates',
      'Rule `r` needs a `do` clause listing its updates.',
    ));
  it('clause-order', () =>
    check(
      PRELUDE + 'rule r rate a do k -= 1 ⟦when⟧ k > 0',
      'clause-order',
      '`when` must come before `rate` and `do` in a rule.',
    ));
  it('duplicate-clause', () =>
    check(
      PRELUDE + 'rule r rate a ⟦rate⟧ b do k -= 1',
      'duplicate-clause',
      'Rule `r` already has a `rate`; a rule has exactly one.',
    ));
  it('unexpected-token inside a rule skips to its next clause', () =>
    check(
      PRELUDE + 'rule r when k > 0 ⟦)⟧ ) rate a do k -= 1',
      'unexpected-token',
      'Unexpected `)` in this rule; a rule continues with `for`, `let`, `when`, `rate` or `do`.',
    ));
  it('errors in two clauses of one rule are both reported, without a missing-rate cascade', () => {
    const text = PRELUDE + 'rule r when k >> 0 rate a * do k -= 1';
    const d = analyze(text, 't.phasic').diagnostics.filter((x) => x.severity === 'error');
    assert.deepEqual(
      d.map((x) => [x.code, x.message]),
      [
        ['expected-expression', 'Expected an expression, found `>`.'],
        ['expected-expression', 'Expected an expression, found `do`.'],
      ],
    );
  });
  it('nesting-too-deep, on the first token past the limit', () => {
    const text = `const n = ${'('.repeat(300)}1${')'.repeat(300)}\nreward r = 1`;
    const start = 'const n = '.length + MAX_NESTING;
    const source = `${text.slice(0, start)}⟦${text[start]}⟧${text.slice(start + 1)}`;
    check(
      source,
      'nesting-too-deep',
      `This expression is nested more than ${MAX_NESTING} levels deep; split it with \`let\` or constants.`,
    );
  });
  it('the nesting count recovers: a later declaration may nest up to the limit again', () => {
    const deep = (levels: number) => `${'('.repeat(levels)}1${')'.repeat(levels)}`;
    const text = `const a = ${deep(300)}\nconst b = ${deep(MAX_NESTING - 1)}\nreward r = a + b`;
    assert.deepEqual(
      analyze(text, 't.phasic').diagnostics.map((d) => d.code),
      ['nesting-too-deep'],
    );
  });
  it('a long flat chain is bounded too, and said to be long, not nested, on the operator past the limit', () => {
    // 200 terms are a tree 200 high; the 201st term's `+` passes the limit.
    const ok = `const n = ${Array(MAX_HEIGHT).fill('1').join(' + ')}\nreward r = n`;
    assert.deepEqual(analyze(ok, 't.phasic').diagnostics, []);
    const terms = Array(1000).fill('1');
    const before = `const n = ${terms.slice(0, MAX_HEIGHT).join(' + ')} `;
    const source = `${before}⟦+⟧ ${terms.slice(MAX_HEIGHT).join(' + ')}\nreward r = n`;
    check(
      source,
      'expression-too-long',
      `This expression is more than ${MAX_HEIGHT} levels high: each operator of a chain such as \`a + b + c\` adds a level, though nothing is nested; split it with \`let\` or constants, write it with \`sum(…)\`, or group its terms in parentheses.`,
    );
  });
  it('one missing token does not hide errors in later declarations', () => {
    const text = 'const n 3\nstate k in 0..n = n\nrule r when k > 0 do k -= 1\nreward x = k +\n';
    const codes = analyze(text, 't.phasic')
      .diagnostics.filter((d) => d.severity === 'error')
      .map((d) => `${d.code}@${d.range.start.line}`);
    assert.deepEqual(codes, ['expected-token@0', 'missing-rate@2', 'expected-expression@4']);
  });
  it('a broken size does not cascade into index errors', () => {
    const text = 'const n 3\nstate s[n]\nreward r = s[0] + s[5]';
    assert.deepEqual(
      analyze(text, 't.phasic').diagnostics.map((d) => d.code),
      ['expected-token'],
    );
  });
  it('a missing separator between updates is reported and the update kept', () => {
    const text = PRELUDE + 'rule r when k > 0 rate a do k -= 1 s[0] += 1';
    const d = analyze(text, 't.phasic');
    assert.deepEqual(
      d.diagnostics.filter((x) => x.severity === 'error').map((x) => x.message),
      ['Expected `;` between two updates.'],
    );
    const rule = d.ast.declarations.find((x) => x.kind === 'rule');
    assert.equal(rule?.kind === 'rule' && rule.updates.length, 2);
  });
});

describe('name diagnostics', () => {
  it('duplicate-model', () =>
    check(
      'model a\nmodel ⟦b⟧',
      'duplicate-model',
      'A file declares its model name once; `model` already appears on line 1.',
    ));
  it('model-not-first', () =>
    check(
      'const n = 1\nmodel ⟦m⟧\nreward r = n',
      'model-not-first',
      '`model` must be the first declaration of the file.',
    ));
  it('reserved-name (built-in function)', () =>
    check('const ⟦sum⟧ = 1', 'reserved-name', '`sum` is a built-in aggregate; choose another name.'));
  it('reserved-name (built-in reward)', () =>
    check(
      'reward ⟦time⟧ = 1',
      'reserved-name',
      '`time` is the built-in reward (time until absorption); choose another name.',
    ));
  it('duplicate-name', () =>
    check('const n = 1\nparam ⟦n⟧', 'duplicate-name', '`n` is already declared as a constant on line 1.'));
  it('shadowed-name', () =>
    check(
      PRELUDE + 'rule r for ⟦n⟧ in 0..1 rate a do k -= 1',
      'shadowed-name',
      '`n` is already a constant (line 1); a loop variable must not shadow it.',
    ));
  it('duplicate-name among locals', () =>
    check(
      PRELUDE + 'rule r for i in 0..1, ⟦i⟧ in 0..1 rate a do s[i] -= 1',
      'duplicate-name',
      '`i` is already a loop variable here (line 6); choose another name.',
    ));
  it('unknown-name', () => check(PRELUDE + 'absorb when ⟦y⟧ > 0', 'unknown-name', 'Unknown name `y`.'));
  it('unknown-function', () =>
    check(
      PRELUDE + 'absorb when ⟦foo⟧(k) > 0',
      'unknown-function',
      'Unknown function `foo`; the functions are min, max, abs, floor, ceil, binom, sum, count, any and all.',
    ));
  it('wrong-arguments', () =>
    check(
      PRELUDE + 'absorb when ⟦binom(k)⟧ > 0',
      'wrong-arguments',
      '`binom` takes 2 arguments, but 1 argument is given.',
    ));
  it('wrong-arguments for sum', () =>
    check(
      PRELUDE + 'absorb when ⟦sum(k + 1)⟧ > 0',
      'wrong-arguments',
      '`sum` takes a state variable, `sum(s)`, or ranges and a body, `sum(i in 0..n-1: s[i])`.',
    ));
  it('not-a-value', () =>
    check(
      PRELUDE + 'rule r rate a do k -= 1\nabsorb when ⟦r⟧ > 0',
      'not-a-value',
      '`r` is a rule; it has no value in an expression.',
    ));
  it('not-a-state (init)', () =>
    check(PRELUDE + 'init ⟦n⟧ = 2', 'not-a-state', '`n` is a constant; only state variables have initial values.'));
  it('not-a-state (update)', () =>
    check(
      PRELUDE + 'rule r rate a do ⟦n⟧ -= 1',
      'not-a-state',
      '`n` is a constant; only state variables can be updated.',
    ));
});

describe('shape and constant diagnostics', () => {
  it('not-an-array', () =>
    check(
      PRELUDE + 'absorb when ⟦n⟧[0] > 0',
      'not-an-array',
      '`n` is a constant, not an array; only state arrays can be indexed.',
    ));
  it('array-without-index', () =>
    check(
      PRELUDE + 'absorb when ⟦s⟧ > 0',
      'array-without-index',
      '`s` is an array of shape [3]; index it (`s[i]`) or use `sum(s)`.',
    ));
  it('wrong-index-count (too many)', () =>
    check(PRELUDE + 'absorb when s[0][⟦1⟧] > 0', 'wrong-index-count', '`s` has 1 dimension, but 2 indices are given.'));
  it('wrong-index-count (too few)', () =>
    check(
      PRELUDE + 'state c[2][2]\nabsorb when ⟦c[0]⟧ > 0',
      'wrong-index-count',
      '`c` has 2 dimensions, but 1 index is given.',
    ));
  it('wrong-index-count (scalar)', () =>
    check(
      PRELUDE + 'absorb when ⟦k[0]⟧ > 0',
      'wrong-index-count',
      '`k` is a scalar state variable; it takes no index.',
    ));
  it('index-out-of-range', () =>
    check(
      PRELUDE + 'absorb when s[⟦n⟧] > 0',
      'index-out-of-range',
      'Index 3 is out of range for `s`, whose size is 3 (valid indices 0..2).',
    ));
  it('not-integer (index)', () =>
    check(PRELUDE + 'absorb when s[⟦0.5⟧] > 0', 'not-integer', 'Index `0.5` is 0.5, which is not an integer.'));
  it('not-integer (array size)', () =>
    check('state s[⟦n / 2⟧]\nconst n = 3', 'not-integer', '`n / 2` is 1.5, but an array size must be an integer.'));
  it('not-integer (update value)', () =>
    check(
      PRELUDE + 'rule r rate a do k -= ⟦n / 2⟧',
      'not-integer',
      '`n / 2` is 1.5, but state variables hold integers.',
    ));
  it('invalid-size', () =>
    check('const n = 1\nstate s[⟦n - 1⟧]', 'invalid-size', 'An array size must be at least 1, but `n - 1` is 0.'));
  it('default-out-of-bounds', () =>
    check('param a = ⟦2⟧ in 0..1', 'default-out-of-bounds', 'The default 2 of `a` is outside its bounds 0..1.'));
  it('default-out-of-bounds (the implicit default 1)', () =>
    check('param a ⟦in 2..3⟧', 'default-out-of-bounds', 'The default 1 of `a` is outside its bounds 2..3.'));
  it('empty-bounds', () =>
    check('state k ⟦in 3..1⟧', 'empty-bounds', 'The bounds 3..1 are empty: the lower bound is above the upper one.'));
  it('initial-out-of-bounds (declaration)', () =>
    check('state k in 1..3 = ⟦5⟧', 'initial-out-of-bounds', 'The initial value 5 of `k` is outside its bounds 1..3.'));
  it('initial-out-of-bounds (init)', () =>
    check(
      'state s[2] in 0..3\ninit s[0] = ⟦4⟧',
      'initial-out-of-bounds',
      'The initial value 4 of `s` is outside its bounds 0..3.',
    ));
  it('initial-out-of-bounds (the implicit 0)', () =>
    check(
      'state ⟦k⟧ in 1..3\nreward r = k',
      'initial-out-of-bounds',
      '`k` starts at 0, outside its bounds 1..3; give it an initial value (`= 1`) or set it with `init`.',
    ));
  it('an init or start that sets the value satisfies the bounds', () => {
    assert.deepEqual(analyze('state k in 1..3\ninit k = 2\nreward r = k', 't.phasic').diagnostics, []);
    assert.deepEqual(analyze('state k in 1..3\nstart 1 { k = 3 }\nreward r = k', 't.phasic').diagnostics, []);
  });
  it('state-too-large', () =>
    check(
      'state ⟦s⟧[2000000]',
      'state-too-large',
      'The state vector would have 2000000 cells, more than the 1048576 the engine accepts.',
    ));
  it('not-constant', () =>
    check(
      'state k\nconst n = ⟦k⟧',
      'not-constant',
      "`k` is a state variable, but a constant's value must be known before exploration (use constants).",
    ));
  it('const-cycle', () => check('const n = ⟦n⟧ + 1', 'const-cycle', 'Constant `n` is defined in terms of itself.'));
  it('const-forward-reference', () =>
    check(
      'const a = ⟦b⟧\nconst b = 1',
      'const-forward-reference',
      'Constant `b` is declared below `a` (line 2); a constant may only use constants declared above it.',
    ));
  it('constant-error (remainder by zero)', () =>
    check('const n = ⟦1 % 0⟧', 'constant-error', '`1 % 0` cannot be computed: remainder by zero.'));
  it('constant-error (an aggregate too long to compute before exploration)', () => {
    // It was no error: the constant stayed unknown, was compiled as a state cell that
    // does not exist, and the engine refused "rewards[1].code[1]: expected a number".
    check(
      'const n = ⟦sum(k in 0..1000000: k)⟧\nreward r = n',
      'constant-error',
      '`sum(k in 0..1000000: k)` cannot be computed: its aggregates evaluate their body more than 100000 times.',
    );
    assert.equal(compileModel('const n = sum(k in 0..1000000: k)\nreward r = n', 't.phasic').model, undefined);
    // In a reward the engine computes it, state by state.
    assert.deepEqual(analyze('reward r = sum(k in 0..1000000: k)', 't.phasic').diagnostics, []);
  });
  it('too-many-rewards', () => {
    // 10⁸ members: the compiler wrote a program for each, for minutes and gigabytes.
    check(
      'reward r[⟦k in 0..99999999⟧] = k',
      'too-many-rewards',
      'The model would have 100000001 rewards (with `time`), more than the 1048576 a model may have.',
    );
    assert.deepEqual(analyze(`reward r[k in 1..${MAX_REWARDS - 1}] = k`, 't.phasic').diagnostics, []);
  });
  it('constant-error (not finite)', () =>
    check(
      'const n = ⟦1 / 0⟧',
      'constant-error',
      'Constant `n` evaluates to Infinity; a constant must be a finite number.',
    ));
});

describe('type and parameter diagnostics', () => {
  it('type-mismatch (number as condition)', () =>
    check(
      PRELUDE + 'absorb when ⟦k⟧',
      'type-mismatch',
      '`k` is a number, but an `absorb` condition must be a condition (true or false); compare it, e.g. `k > 0`.',
    ));
  it('type-mismatch (condition as number)', () =>
    check(
      PRELUDE + 'reward r = ⟦k > 1⟧',
      'type-mismatch',
      '`k > 1` is a condition (true or false), but a reward must be a number.',
    ));
  it('type-mismatch (if branches)', () =>
    check(
      PRELUDE + 'reward r = if k > 1 then 1 else ⟦k > 2⟧',
      'type-mismatch',
      'The `then` branch is a number but the `else` branch `k > 2` is a condition; both branches must have the same type.',
    ));
  it('nonlinear-rate names both factors', () =>
    check(
      PRELUDE + 'rule r when k > 0 rate ⟦a * k * b⟧ do k -= 1',
      'nonlinear-rate',
      'The rate must be linear in the parameters, but `a * k` and `b` both depend on parameters and are multiplied.',
    ));
  it('nonlinear-rate (remainder)', () =>
    check(
      PRELUDE + 'rule r when k > 0 rate ⟦a⟧ % 2 do k -= 1',
      'nonlinear-rate',
      'The remainder `%` of `a`, which depends on a parameter, is not linear in the parameters.',
    ));
  it('parameter-division', () =>
    check(
      PRELUDE + 'rule r when k > 0 rate k / ⟦(a + b)⟧ do k -= 1',
      'parameter-division',
      'Division by `(a + b)`, which depends on a parameter: the rate must be linear in the parameters.',
    ));
  it('parameter-in-condition', () =>
    check(
      PRELUDE + 'rule r rate if ⟦a⟧ > 1 then k else 0 do k -= 1',
      'parameter-in-condition',
      'Parameter `a` is used inside a comparison (`a > 1`); there the rate would not be linear in the parameters.',
    ));
  it('parameter-in-function', () =>
    check(
      PRELUDE + 'rule r rate min(2 * ⟦a⟧, k) do k -= 1',
      'parameter-in-function',
      'Parameter `a` is used inside `min(…)` (`2 * a`); there the rate would not be linear in the parameters.',
    ));
  it('parameter-in-index', () =>
    check(
      PRELUDE + 'rule r rate s[⟦a⟧] do k -= 1',
      'parameter-in-index',
      'Parameter `a` is used inside an index; there the rate would not be linear in the parameters.',
    ));
  it('parameter-in-range', () =>
    check(
      PRELUDE + 'rule r rate sum(i in 0..⟦a⟧: s[i]) do k -= 1',
      'parameter-in-range',
      "Parameter `a` is used inside `sum`'s range; there the rate would not be linear in the parameters.",
    ));
  it('parameter-outside-rate', () =>
    check(
      PRELUDE + 'rule r when ⟦a⟧ > 0 rate b do k -= 1',
      'parameter-outside-rate',
      'Parameter `a` may appear only in a `rate` expression.',
    ));
  it('parameter-outside-rate (in a constant)', () =>
    check(
      'param a\nconst n = ⟦a⟧',
      'parameter-outside-rate',
      "Parameter `a` may appear only in a `rate` expression, but this is a constant's value.",
    ));
  it('invalid-rate (a negative coefficient known before exploration)', () =>
    check(
      PRELUDE + 'rule r rate ⟦2 - 3 * a⟧ do k -= 1',
      'invalid-rate',
      "The rate's coefficient of `a` is -3; every coefficient of a rate must be finite and ≥ 0.",
    ));
  it('zero-rate', () =>
    check(
      PRELUDE + 'rule r rate ⟦0 * a⟧ do k -= 1',
      'zero-rate',
      'This rate is always 0, so rule `r` never fires.',
      'warning',
    ));
  it('linear rates with sums, conditionals and constant factors are accepted', () => {
    const text =
      PRELUDE +
      'rule r for i in 0..n-1 when s[i] > 0 rate (a - b / 2) * s[i] + sum(j in 0..i: b * s[j]) + (if i == 0 then a else 0) do s[i] -= 1';
    assert.deepEqual(
      analyze(text, 't.phasic').diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
  });
});

describe('start, override, compile and unused diagnostics', () => {
  it('start-probability', () =>
    check(
      PRELUDE + 'start ⟦1.5⟧ { k = 1 }',
      'start-probability',
      'A start probability must be in (0, 1], but this one is 1.5.',
    ));
  it('start-probability-sum', () =>
    check(
      PRELUDE + 'start 0.6 { k = 1 }\nstart ⟦0.6⟧ { k = 2 }',
      'start-probability-sum',
      'The start probabilities sum to 1.2, more than 1.',
    ));
  it('start-defect', () =>
    check(
      PRELUDE + 'start 0.5 { k = 1 }\nstart ⟦0.25⟧ { k = 2 }',
      'start-defect',
      'The start probabilities sum to 0.75: with probability 0.25 the process starts absorbed.',
      'information',
    ));
  it('bad-override (non-integral)', () => {
    const source = 'model m\nconst ⟦n⟧ = 4\nstate k in 0..n = n\nreward r = k';
    expectOnly(
      compileModel(marked(source).text, 'm.phasic', { n: 2.5 }).diagnostics,
      source,
      'bad-override',
      'Constant `n` is an integer, but the override n = 2.5 is not; give an integer.',
    );
  });
  it('bad-override (unknown constant)', () => {
    const source = 'model ⟦m⟧\nconst n = 4\nstate k in 0..n = n\nreward r = k';
    expectOnly(
      compileModel(marked(source).text, 'm.phasic', { q: 1 }).diagnostics,
      source,
      'bad-override',
      'The override `q` names no constant of this model.',
    );
  });
  it('too-complex', () => {
    const source = `state k\nreward r = ⟦min(${Array(300).fill('k').join(', ')})⟧`;
    const result = compileModel(marked(source).text, 'm.phasic', {});
    assert.equal(result.model, undefined);
    expectOnly(
      result.diagnostics,
      source,
      'too-complex',
      'This expression needs 300 stack slots in the engine, more than 256; split it with `let`.',
    );
  });
  it('unused constant', () => check('const ⟦m⟧ = 1', 'unused', 'Constant `m` is never used.', 'warning'));
  it('unused let', () =>
    check(
      'param a\nstate k\nrule r let ⟦x⟧ = 1 rate a do k -= 1',
      'unused',
      '`let` name `x` is never used.',
      'warning',
    ));
  it('unused loop variable', () =>
    check(
      'param a\nstate k\nrule r for ⟦i⟧ in 0..1 rate a do k += 1',
      'unused',
      'Loop variable `i` is never used.',
      'warning',
    ));
  it('a model with errors does not compile', () => {
    const result = compileModel('state k\nreward r = y', 'm.phasic', {});
    assert.equal(result.model, undefined);
    assert.equal(result.diagnostics[0].code, 'unknown-name');
  });
});
