// Lexing and parsing: numbers and ranges, comments, precedence, the declaration
// layout rule, and the source ranges every node carries.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiagnosticSink } from '../../extension/language/diagnostics';
import { tokenize } from '../../extension/language/lexer';
import { parse } from '../../extension/language/parser';
import { computeLineStarts, type Expr } from '../../extension/language/syntax';

function tokens(text: string): string[] {
  return tokenize(text, computeLineStarts(text), new DiagnosticSink()).map((t) => `${t.kind}:${t.text}`);
}

/** Fully parenthesized rendering of an expression, to read precedence off. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return String(e.value);
    case 'boolean':
      return String(e.value);
    case 'name':
      return e.name.name;
    case 'index':
      return `${e.name.name}${e.indices.map((i) => `[${show(i)}]`).join('')}`;
    case 'call':
      return `${e.callee.name}(${e.args.map(show).join(', ')})`;
    case 'aggregate':
      return `${e.op}(${e.bindings.map((b) => `${b.name.name} in ${show(b.lo)}..${show(b.hi)}`).join(', ')}: ${show(e.body)})`;
    case 'unary':
      return `(${e.op === 'not' ? 'not ' : '-'}${show(e.operand)})`;
    case 'binary':
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'if':
      return `(if ${show(e.condition)} then ${show(e.then)} else ${show(e.else)})`;
    case 'error':
      return '<error>';
  }
}

function constExpr(src: string): Expr {
  const sink = new DiagnosticSink();
  const file = parse(`const x = ${src}`, sink);
  assert.deepEqual(sink.list, []);
  const d = file.declarations[0];
  assert.ok(d.kind === 'const' && d.value);
  return d.value;
}

describe('lexer', () => {
  it('a dot followed by a dot is never part of a number', () => {
    assert.deepEqual(tokens('0..n-1'), ['number:0', 'punct:..', 'identifier:n', 'punct:-', 'number:1', 'eof:']);
    assert.deepEqual(tokens('1.5..2'), ['number:1.5', 'punct:..', 'number:2', 'eof:']);
  });
  it('reads integers, reals and exponents', () => {
    assert.deepEqual(tokens('42 0.5 1e-3 2.5E+4'), ['number:42', 'number:0.5', 'number:1e-3', 'number:2.5E+4', 'eof:']);
  });
  it('skips both kinds of comments', () => {
    assert.deepEqual(tokens('a // b\n/* c\n d */ e'), ['identifier:a', 'identifier:e', 'eof:']);
  });
  it('tells keywords from identifiers', () => {
    assert.deepEqual(tokens('rule rules'), ['keyword:rule', 'identifier:rules', 'eof:']);
  });
});

describe('parser', () => {
  it('follows the precedence table, lowest first: if, or, and, not, comparison, + -, * / %, unary -', () => {
    assert.equal(
      show(constExpr('if a then b else c or d and not e == f + g * -h[i]')),
      '(if a then b else (c or (d and (not (e == (f + (g * (-h[i]))))))))',
    );
    assert.equal(show(constExpr('a - b - c / d % e')), '((a - b) - ((c / d) % e))');
    assert.equal(show(constExpr('-a * b')), '((-a) * b)');
    assert.equal(show(constExpr('not a and b')), '((not a) and b)');
  });
  it('parses calls, aggregates and sum over an array', () => {
    assert.equal(
      show(constExpr('min(a, b) + sum(i in 0..n-1, j in i..n-1: s[i][j]) + sum(s)')),
      '((min(a, b) + sum(i in 0..(n - 1), j in i..(n - 1): s[i][j])) + sum(s))',
    );
  });
  it('ends a declaration where the next top-level keyword begins, on any line', () => {
    const file = parse('const a = 1 const b = a\n+ 2 param t', new DiagnosticSink());
    assert.deepEqual(
      file.declarations.map((d) => d.kind),
      ['const', 'const', 'param'],
    );
    const b = file.declarations[1];
    assert.ok(b.kind === 'const' && b.value);
    assert.equal(show(b.value), '(a + 2)');
  });
  it('gives every node its range, including the parentheses of a group', () => {
    const text = 'model m\nrule r\n  for i in 0..n-1\n  rate (a + 1) * s[i]\n  do s[i] -= 1';
    const file = parse(text, new DiagnosticSink());
    const rule = file.declarations[1];
    assert.ok(rule.kind === 'rule' && rule.rate);
    assert.deepEqual(rule.range, { start: { line: 1, character: 0 }, end: { line: 4, character: 14 } });
    assert.deepEqual(rule.bindings[0].range, { start: { line: 2, character: 6 }, end: { line: 2, character: 17 } });
    assert.ok(rule.rate.kind === 'binary');
    assert.equal(text.slice(rule.rate.left.start, rule.rate.left.end), '(a + 1)');
    assert.equal(text.slice(rule.rate.start, rule.rate.end), '(a + 1) * s[i]');
    assert.deepEqual(rule.updates[0].range, { start: { line: 4, character: 5 }, end: { line: 4, character: 14 } });
  });
  it('counts CRLF and CR line breaks as one line each', () => {
    const file = parse('const a = 1\r\nconst b = 2\rconst c = 3', new DiagnosticSink());
    assert.deepEqual(
      file.declarations.map((d) => d.range.start.line),
      [0, 1, 2],
    );
  });
  it('reads rules with interleaved let and when, and start blocks', () => {
    const sink = new DiagnosticSink();
    const file = parse(
      'rule r for i in 0..2 let a = i when a > 0 let b = a + 1 when b < 3 rate 1 do s[i] = b, t += 1;\nstart 0.5 { s[0] = 1; t = 2 }',
      sink,
    );
    assert.deepEqual(sink.list, []);
    const [rule, start] = file.declarations;
    assert.ok(rule.kind === 'rule' && start.kind === 'start');
    assert.deepEqual(
      rule.clauses.map((c) => c.kind),
      ['let', 'when', 'let', 'when'],
    );
    assert.deepEqual(
      rule.updates.map((u) => u.op),
      ['=', '+='],
    );
    assert.equal(start.assignments.length, 2);
  });
});
