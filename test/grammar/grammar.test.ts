// The TextMate grammar agrees with the project's lexer on every model we ship and
// on every grammar test file: each lexer token is exactly one grammar token with a
// scope of the matching family, and everything between tokens is whitespace or
// comment. The scope-assertion files run through vscode-tmgrammar-test, which must
// also fail on a wrong assertion.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as oniguruma from 'vscode-oniguruma';
import * as textmate from 'vscode-textmate';
import { analyze, type SymbolKind } from '../../extension/language';
import { DiagnosticSink } from '../../extension/language/diagnostics';
import { KEYWORDS, type Token, tokenize } from '../../extension/language/lexer';
import { computeLineStarts } from '../../extension/language/syntax';

// Tests run from out/test/grammar; the sources stay in the tree.
const ROOT = join(__dirname, '..', '..', '..');
const GRAMMAR = join(ROOT, 'syntaxes', 'phasic.tmLanguage.json');

function phasicFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.phasic'))
    .map((f) => join(dir, f));
}
const MODELS = [...phasicFiles('examples'), ...phasicFiles('test/fixtures/models')];
const GRAMMAR_TESTS = phasicFiles('test/grammar');

interface GrammarToken {
  start: number; // file offsets
  end: number;
  scopes: string[];
}

let grammarPromise: Promise<textmate.IGrammar> | undefined;
function loadGrammar(): Promise<textmate.IGrammar> {
  grammarPromise ??= (async () => {
    const wasm = readFileSync(join(ROOT, 'node_modules', 'vscode-oniguruma', 'release', 'onig.wasm'));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const registry = new textmate.Registry({
      onigLib: Promise.resolve({
        createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
        createOnigString: (s: string) => new oniguruma.OnigString(s),
      }),
      loadGrammar: async () => textmate.parseRawGrammar(readFileSync(GRAMMAR, 'utf8'), GRAMMAR),
    });
    const grammar = await registry.loadGrammar('source.phasic');
    if (!grammar) throw new Error('source.phasic did not load');
    return grammar;
  })();
  return grammarPromise;
}

async function grammarTokens(text: string): Promise<GrammarToken[]> {
  const grammar = await loadGrammar();
  const out: GrammarToken[] = [];
  let stack = textmate.INITIAL;
  let offset = 0;
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    for (const t of r.tokens) {
      out.push({ start: offset + t.startIndex, end: offset + Math.min(t.endIndex, line.length), scopes: t.scopes });
    }
    offset += line.length + 1;
  }
  return out.filter((t) => t.end > t.start);
}

function lexerTokens(text: string): { tokens: Token[]; sink: DiagnosticSink } {
  const sink = new DiagnosticSink();
  const tokens = tokenize(text, computeLineStarts(text), sink).filter((t) => t.kind !== 'eof');
  return { tokens, sink };
}

/** The scope families a lexer token of each kind may take. */
function expectedFamily(t: Token): RegExp {
  switch (t.kind) {
    case 'keyword':
      return /^(storage\.type|keyword\.other|keyword\.control\.conditional|keyword\.operator\.logical|constant\.language\.boolean)\./;
    case 'identifier':
      return /^(variable|entity\.name|support\.function\.builtin)\./;
    case 'number':
      return /^(constant\.numeric|invalid\.illegal\.number)\./;
    default:
      return /^(keyword\.operator|punctuation)\./;
  }
}

const innermost = (t: GrammarToken) => t.scopes[t.scopes.length - 1];

async function checkAgreement(file: string): Promise<void> {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const grammar = await grammarTokens(text);
  const { tokens } = lexerTokens(text);
  const covered = new Set<number>();
  for (const tok of tokens) {
    const where = `${file}:${tok.range.start.line + 1}:${tok.range.start.character + 1} \`${tok.text}\``;
    const same = grammar.find((g) => g.start === tok.start && g.end === tok.end);
    assert.ok(same, `${where}: no grammar token with the lexer token's bounds`);
    assert.match(innermost(same), expectedFamily(tok), `${where}: ${tok.kind} scoped ${innermost(same)}`);
    if (tok.kind === 'keyword') assert.ok(KEYWORDS.has(tok.text));
    covered.add(grammar.indexOf(same));
  }
  // Whatever the lexer skipped is whitespace or comment for the grammar too.
  grammar.forEach((g, i) => {
    if (covered.has(i)) return;
    const piece = text.slice(g.start, g.end);
    if (piece.trim() === '') return;
    const where = `${file} offset ${g.start} \`${piece}\``;
    assert.ok(
      g.scopes.some((s) => s.startsWith('comment.') || s.startsWith('invalid.illegal.')),
      `${where}: scoped ${g.scopes.join(' ')}`,
    );
  });
}

describe('TextMate grammar', () => {
  it('finds the models and grammar tests it checks', () => {
    assert.ok(MODELS.length >= 10, MODELS.join(', '));
    assert.ok(GRAMMAR_TESTS.length >= 3, GRAMMAR_TESTS.join(', '));
  });

  for (const file of [...MODELS, ...GRAMMAR_TESTS]) {
    it(`agrees with the lexer on ${file}`, () => checkAgreement(file));
  }

  it('quotes in models.phasic only lines that the examples really contain', () => {
    const examples = phasicFiles('examples').map((f) => readFileSync(join(ROOT, f), 'utf8').split('\n'));
    const quoted = readFileSync(join(ROOT, 'test/grammar/models.phasic'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('//'));
    assert.ok(quoted.length >= 20);
    for (const line of quoted)
      assert.ok(
        examples.some((lines) => lines.includes(line)),
        `not in any example: ${line}`,
      );
  });

  const DECLARATION_SCOPE: Record<SymbolKind, string> = {
    model: 'entity.name.type.model.phasic',
    const: 'variable.other.constant.declaration.phasic',
    param: 'variable.parameter.declaration.phasic',
    state: 'entity.name.variable.state.phasic',
    rule: 'entity.name.function.rule.phasic',
    reward: 'entity.name.function.reward.phasic',
    loop: 'variable.parameter.binding.phasic',
    let: 'entity.name.variable.local.phasic',
  };

  for (const file of MODELS) {
    it(`colours every name the checker declares in ${file} as a declaration`, async () => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const analysis = analyze(text, file);
      assert.deepEqual(analysis.diagnostics, []);
      const grammar = await grammarTokens(text);
      assert.ok(analysis.symbols.length > 0);
      for (const s of analysis.symbols) {
        const d = s.declaration;
        const g = grammar.find((t) => t.start === d.start && t.end === d.end);
        assert.ok(g, `${file}: ${s.kind} ${s.name} is not one grammar token`);
        assert.equal(innermost(g), DECLARATION_SCOPE[s.kind], `${file}: ${s.kind} ${s.name}`);
      }
    });
  }

  it('marks exactly the lexer errors invalid', async () => {
    const text = 'const a = 2x + 1e + 1e-3 + 0..n-1 + 2.5E+4 . 3 & ! "s"\n';
    const grammar = await grammarTokens(text);
    const { sink } = lexerTokens(text);
    const errors = sink.list.map((d) => text.slice(...spanOffsets(text, d.range)));
    const invalid = grammar
      .filter((g) => innermost(g).startsWith('invalid.illegal.'))
      .map((g) => text.slice(g.start, g.end));
    assert.deepEqual(invalid, ['2x', '1e', '.', '&', '!', '"', '"']);
    assert.deepEqual(errors, ['2x', '1e', '.', '&', '!', '"', '"']);
  });
});

function spanOffsets(
  text: string,
  range: { start: { line: number; character: number }; end: { line: number; character: number } },
): [number, number] {
  const starts = computeLineStarts(text);
  return [starts[range.start.line] + range.start.character, starts[range.end.line] + range.end.character];
}

describe('grammar scope assertions (vscode-tmgrammar-test)', () => {
  const cli = join(ROOT, 'node_modules', 'vscode-tmgrammar-test', 'dist', 'unit.js');
  const runCli = (pattern: string) =>
    spawnSync(process.execPath, [cli, '-g', GRAMMAR, pattern], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

  it('every assertion in test/grammar/*.phasic holds', () => {
    const r = runCli('test/grammar/*.phasic');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const f of GRAMMAR_TESTS) assert.match(r.stdout, new RegExp(`✓ ${f.replace(/[.]/g, '\\.')}`));
  });

  it('a wrong assertion makes the run fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasic-grammar-'));
    try {
      const file = join(dir, 'wrong.phasic');
      writeFileSync(file, '// SYNTAX TEST "source.phasic"\nrule r\n//   ^ storage.type.rule.phasic\n');
      const r = runCli(file);
      assert.notEqual(r.status, 0, r.stdout);
      assert.match(r.stdout, /missing required scopes: storage\.type\.rule\.phasic/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
