// The front end must survive whatever an editor buffer holds mid-edit: random edits of
// every reference model never throw, never hang and always yield diagnostics, and
// whatever still compiles is a structurally valid compiled model. Large files stay fast.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyze, type CompiledModel, compileModel } from '../../extension/language';
import { DiagnosticSink } from '../../extension/language/diagnostics';
import { parse } from '../../extension/language/parser';
import { OP_ARGS, Op, type Program } from '../../extension/protocol/compiled-model';
import { random } from '../random';
import { fixture, MODEL_FILES } from './fixtures';

const SNIPPETS = [
  '(',
  ')',
  '[',
  ']',
  '..',
  ' rule ',
  ' when ',
  'theta',
  '*',
  ' if ',
  ' else ',
  '0',
  '-',
  'sum(',
  '{',
  '/*',
  '\n',
  'é',
  '\u{1F600}',
];

function mutate(text: string, rnd: () => number): string {
  const at = () => Math.floor(rnd() * (text.length + 1));
  for (let edits = 1 + Math.floor(rnd() * 3); edits > 0; edits--) {
    const a = at();
    const b = Math.min(text.length, a + Math.floor(rnd() * 40));
    switch (Math.floor(rnd() * 4)) {
      case 0:
        text = text.slice(0, a) + text.slice(b);
        break; // delete a range
      case 1:
        text = text.slice(0, b) + text.slice(a, b) + text.slice(b);
        break; // duplicate it
      case 2:
        if (a + 1 < text.length) text = text.slice(0, a) + text[a + 1] + text[a] + text.slice(a + 2);
        break; // swap two characters
      default:
        text = text.slice(0, a) + SNIPPETS[Math.floor(rnd() * SNIPPETS.length)] + text.slice(a); // insert a fragment
    }
  }
  return text;
}

/** What the engine will check at load time: opcodes, argument counts, jump targets, one result. */
function assertValidProgram(code: Program): void {
  let pc = 0;
  let depth = 0;
  const jumps: number[] = [];
  while (pc < code.length) {
    const op = code[pc];
    assert.ok(Number.isInteger(op) && op >= 0 && op < OP_ARGS.length, `opcode ${op}`);
    if (op === Op.JUMP || op === Op.JUMP_IF_FALSE) jumps.push(code[pc + 1]);
    for (let i = 1; i <= OP_ARGS[op]; i++) assert.ok(Number.isFinite(code[pc + i]), `argument of ${op}`);
    depth += op === Op.CONST || op === Op.LOAD || op === Op.CELL || op === Op.DUP ? 1 : 0;
    pc += 1 + OP_ARGS[op];
  }
  assert.equal(pc, code.length);
  for (const j of jumps) assert.ok(j >= 0 && j <= code.length, `jump target ${j}`);
  assert.ok(depth >= 1);
}

function assertValidModel(model: CompiledModel): void {
  const programs: Program[] = [
    ...model.absorb.map((a) => a.code),
    ...model.rewards.map((r) => r.code),
    ...model.rules.flatMap((r) => [
      ...r.loops.flatMap((l) => [l.lo, l.hi]),
      ...r.steps.map((s) => ('let' in s ? s.code : s.when)),
      ...r.rate.filter((c): c is Program => c !== null),
      ...r.updates.flatMap((u) => [u.cell, u.value]),
    ]),
  ];
  programs.forEach(assertValidProgram);
  for (const r of model.rules) assert.equal(r.rate.length, model.params.length + 1);
  for (const s of model.starts) assert.equal(s.state.length, model.stateLength);
  // The model survives its JSON round trip unchanged (no NaN or Infinity turned to null).
  assert.deepEqual(JSON.parse(JSON.stringify(model)), model);
}

describe('robustness', () => {
  for (const name of MODEL_FILES) {
    it(`${name}: 400 random edits never throw or hang, and what compiles is valid`, { timeout: 120_000 }, () => {
      const rnd = random(name.length * 7919);
      const original = fixture(name);
      let compiled = 0;
      let slowest = 0;
      for (let i = 0; i < 400; i++) {
        const text = mutate(original, rnd);
        const t0 = process.cpuUsage();
        const analysis = analyze(text, `${name}.phasic`);
        const { model, diagnostics } = compileModel(text, `${name}.phasic`, {});
        const used = process.cpuUsage(t0);
        slowest = Math.max(slowest, (used.user + used.system) / 1000);
        assert.ok(Array.isArray(analysis.diagnostics) && Array.isArray(diagnostics));
        if (model) {
          compiled++;
          assertValidModel(model);
          assert.ok(diagnostics.every((d) => d.severity !== 'error'));
        } else {
          assert.ok(
            diagnostics.some((d) => d.severity === 'error'),
            `no model and no error for:\n${text}`,
          );
        }
      }
      console.log(`${name}: slowest of 400 edits took ${slowest.toFixed(0)} ms of CPU`);
      assert.ok(compiled > 0, 'some edits leave a valid model');
    });
  }

  it('hover at every position of a broken file describes exactly the name under the cursor', () => {
    for (const seed of [3, 4, 5, 6, 7]) {
      const text = mutate(fixture('two_locus'), random(seed));
      const analysis = analyze(text, 'two_locus.phasic');
      const lines = text.split('\n');
      let hovered = 0;
      lines.forEach((line, l) => {
        for (let c = 0; c <= line.length; c++) {
          const hover = analysis.hoverAt({ line: l, character: c });
          if (!hover) continue;
          hovered++;
          const where = `seed ${seed}, ${l}:${c} in ${JSON.stringify(line)}`;
          const { start, end } = hover.range;
          assert.ok(
            start.line === l && end.line === l && start.character <= c && c <= end.character,
            `${where}: the range covers the cursor`,
          );
          assert.equal(
            line.slice(start.character, end.character),
            hover.symbol.name,
            `${where}: the range is the name`,
          );
          assert.ok(hover.markdown.includes(hover.symbol.name), `${where}: the text names it`);
        }
      });
      // Every declaration and reference the checker resolved answers a hover on its
      // first character with its own symbol, however broken the rest of the file.
      let names = 0;
      for (const symbol of analysis.symbols) {
        for (const id of [symbol.declaration, ...symbol.references]) {
          if (id.end <= id.start) continue;
          names++;
          const hover = analysis.hoverAt(id.range.start);
          assert.equal(
            hover?.symbol,
            symbol,
            `seed ${seed}: ${symbol.name} at ${id.range.start.line}:${id.range.start.character}`,
          );
        }
      }
      assert.ok(
        hovered > 0 && names > 0,
        `seed ${seed}: the broken file still has names to hover (${hovered} positions, ${names} names)`,
      );
    }
  });

  // Speed is measured here and printed, never asserted (targets live in bench/); the
  // timeout only tells a hang from slowness.
  it('a 1 MB model parses and analyzes without hanging', { timeout: 120_000 }, () => {
    const rules: string[] = ['model big', 'const n = 5', 'param a', 'state k in 0..n = n'];
    for (let i = 0, length = 0; length < 1_000_000; i++) {
      const rule = `rule r${i} when k > 0 and ${i % 7} >= 0 rate a * k * (k - 1) / 2 do k -= 1 // rule ${i}`;
      rules.push(rule);
      length += rule.length + 1;
    }
    const text = rules.join('\n');
    // CPU time, not wall time: the tests may share the machine with a compiler.
    const cpuMs = (since: NodeJS.CpuUsage) => {
      const c = process.cpuUsage(since);
      return (c.user + c.system) / 1000;
    };
    let t0 = process.cpuUsage();
    const ast = parse(text, new DiagnosticSink());
    const parseMs = cpuMs(t0);
    assert.equal(ast.declarations.length, rules.length);
    t0 = process.cpuUsage();
    const analysis = analyze(text, 'big.phasic');
    const analyzeMs = cpuMs(t0);
    assert.deepEqual(
      analysis.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    console.log(
      `1 MB model (${text.length} characters): parse ${parseMs.toFixed(0)} ms CPU, analyze ${analyzeMs.toFixed(0)} ms CPU`,
    );
  });

  it('1 MB of garbage yields bounded diagnostics', { timeout: 120_000 }, () => {
    const rnd = random(11);
    const alphabet = 'abc 019.()[]{}+-*/%<>=!@#;,:\n';
    let text = '';
    while (text.length < 1_000_000) text += alphabet[Math.floor(rnd() * alphabet.length)];
    const t0 = process.cpuUsage();
    const analysis = analyze(text, 'garbage.phasic');
    const used = process.cpuUsage(t0);
    const ms = (used.user + used.system) / 1000;
    assert.ok(analysis.diagnostics.length > 0 && analysis.diagnostics.length <= 1000);
    console.log(`1 MB of garbage: analyze ${ms.toFixed(0)} ms CPU`);
  });

  it('deep nesting of every kind is a diagnostic, not a stack overflow', () => {
    const deep = 100_000;
    for (const text of [
      `const n = ${'('.repeat(deep)}1${')'.repeat(deep)}`,
      `const n = ${'-'.repeat(deep)}1`,
      `state k\nabsorb when ${'not '.repeat(deep)}true`,
      `const n = ${'if true then '.repeat(deep)}1${' else 0'.repeat(deep)}`,
      `const n = ${'min('.repeat(deep)}1${')'.repeat(deep)}`,
      `state s[1]\nabsorb when s[${'s['.repeat(deep)}0${']'.repeat(deep)}] > 0`,
    ]) {
      const codes = analyze(text, 'deep.phasic').diagnostics.map((d) => d.code);
      assert.ok(codes.includes('nesting-too-deep'), codes.join(','));
    }
  });
});
