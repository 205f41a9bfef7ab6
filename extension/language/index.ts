// The front end's public API: what the language server, the engine process, the CLI
// and the tests call. Everything here is pure (no editor, no file system): text in,
// diagnostics, symbols and compiled models out.

import type { CompiledModel } from '../protocol/compiled-model';
import { type CheckResult, check } from './checker';
import { compile } from './compile';
import { type Diagnostic, DiagnosticSink } from './diagnostics';
import type { SymbolInfo } from './names';
import { parse } from './parser';
import { type ModelFile, offsetAt, type Position, type Range } from './syntax';

export type { CompiledModel } from '../protocol/compiled-model';
export type { Diagnostic, Severity } from './diagnostics';
export type { SymbolInfo, SymbolKind } from './names';
export {
  isModelSource,
  type ModelOutline,
  type Preparation,
  type PreparationFailure,
  type PreparedModel,
  prepareModel,
} from './prepare';
export type { Position, Range } from './syntax';

/** One place a symbol's name is written: its declaration or a use. */
export interface Occurrence {
  symbol: SymbolInfo;
  range: Range;
  start: number;
  end: number;
  isDeclaration: boolean;
}

export interface Analysis {
  fileName: string;
  text: string;
  ast: ModelFile;
  diagnostics: Diagnostic[];
  /** Every symbol (top-level and local) with its declaration and references. */
  symbols: SymbolInfo[];
  /** Top-level symbols by name. */
  globals: Map<string, SymbolInfo>;
  /** The model's display name: its `model` declaration, or the file name. */
  modelName: string;
  stateLength: number;
  /** The occurrence of a name at an editor position, if any. */
  occurrenceAt(position: Position): Occurrence | undefined;
  /** Markdown describing the symbol at `position`, and the range it describes. */
  hoverAt(position: Position): { range: Range; markdown: string; symbol: SymbolInfo } | undefined;
  offsetAt(position: Position): number;
}

/**
 * Constant overrides by name. A plain object is read by its own keys only, so that a
 * constant named `constructor` or `__proto__` is overridden exactly when the caller
 * gave it (build such objects with JSON.parse, Object.fromEntries or
 * Object.create(null): assigning `o['__proto__'] = v` to `{}` sets no key).
 */
export type Overrides = Readonly<Record<string, number>> | ReadonlyMap<string, number>;

function overrideMap(overrides: Overrides): ReadonlyMap<string, number> {
  return overrides instanceof Map ? overrides : new Map(Object.entries(overrides));
}

function run(text: string, overrides: ReadonlyMap<string, number>) {
  const sink = new DiagnosticSink();
  const ast = parse(text, sink);
  const checked = check(ast, text, sink, overrides);
  return { sink, ast, checked };
}

/** Parses and checks a model; never throws on any input text. */
export function analyze(text: string, fileName: string): Analysis {
  const { sink, ast, checked } = run(text, new Map());
  return makeAnalysis(text, fileName, ast, checked, sink.list);
}

/** Checks a model with constant overrides and compiles it; `model` is absent when there are errors. */
export function compileModel(
  text: string,
  fileName: string,
  overrides: Overrides = {},
): { model?: CompiledModel; diagnostics: Diagnostic[] } {
  const { sink, ast, checked } = run(text, overrideMap(overrides));
  const model = sink.hasErrors ? undefined : compile(ast, checked, fileName, sink);
  return { model, diagnostics: sink.list };
}

/**
 * The text of a model file as an editor shows it: without a UTF-8 byte order mark,
 * so that the columns of line 1 are the editor's. For whoever reads files from disk.
 */
export function withoutByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The model's constants, in declaration order, for the override input. */
export function constantsOf(analysis: Analysis): Array<{ name: string; value: number; integer: boolean }> {
  return analysis.symbols
    .filter((s) => s.kind === 'const' && s.value !== undefined)
    .map((s) => ({ name: s.name, value: s.value!, integer: s.integer ?? false }));
}

function displayName(fileName: string): string {
  return fileName.replace(/^.*[\\/]/, '').replace(/\.phasic$/, '');
}

function makeAnalysis(
  text: string,
  fileName: string,
  ast: ModelFile,
  checked: CheckResult,
  diagnostics: Diagnostic[],
): Analysis {
  const occurrences: Occurrence[] = [];
  for (const symbol of checked.symbols) {
    const d = symbol.declaration;
    occurrences.push({ symbol, range: d.range, start: d.start, end: d.end, isDeclaration: true });
    for (const r of symbol.references)
      occurrences.push({ symbol, range: r.range, start: r.start, end: r.end, isDeclaration: false });
  }
  occurrences.sort((a, b) => a.start - b.start);
  const toOffset = (p: Position) => offsetAt(ast.lineStarts, ast.length, p);
  const occurrenceAt = (position: Position): Occurrence | undefined => {
    const offset = toOffset(position);
    // The last occurrence starting at or before the offset; a cursor just after a name counts.
    let lo = 0;
    let hi = occurrences.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (occurrences[mid].start <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const o = found >= 0 ? occurrences[found] : undefined;
    return o && offset <= o.end ? o : undefined;
  };
  return {
    fileName,
    text,
    ast,
    diagnostics,
    symbols: checked.symbols,
    globals: checked.globals,
    modelName: checked.modelName ?? displayName(fileName),
    stateLength: checked.stateLength,
    occurrenceAt,
    hoverAt(position) {
      const o = occurrenceAt(position);
      if (!o) return undefined;
      return { range: o.range, markdown: describeSymbol(o.symbol), symbol: o.symbol };
    },
    offsetAt: toOffset,
  };
}

/** Hover text for a symbol: what it is and the numbers the engine will use for it. */
export function describeSymbol(s: SymbolInfo): string {
  const code = (x: string) => '```phasic\n' + x + '\n```';
  switch (s.kind) {
    case 'const':
      return `${code(`const ${s.name} = ${s.value ?? '?'}`)}\nConstant (${s.integer ? 'integer' : 'real'}); a run may override it.`;
    case 'param': {
      const bounds = s.lo !== undefined || (s.hi ?? null) !== null ? `, bounds ${s.lo ?? '−∞'}..${s.hi ?? '∞'}` : '';
      return `${code(`param ${s.name} = ${s.default ?? 1}`)}\nParameter θ${subscript((s.index ?? 0) + 1)} (index ${s.index ?? 0}), default ${s.default ?? 1}${bounds}.`;
    }
    case 'state': {
      const dims = s.dims ?? [];
      const cells = dims.reduce((a, b) => a * b, 1);
      const shape = dims.length ? `array of shape [${dims.join(', ')}], ${cells} cells` : 'scalar';
      const facts = [`State variable, ${shape}`];
      if (s.offset !== undefined) {
        facts.push(
          dims.length === 0
            ? `state vector cell ${s.offset}`
            : `state vector cells ${s.offset}..${s.offset + cells - 1}`,
        );
        facts.push(`bounds ${s.lo ?? 0}..${s.hi ?? '∞'}`, `initially ${s.initial ?? 0}`);
      }
      return `${code(`state ${s.name}${dims.map((d) => `[${d}]`).join('')}`)}\n${facts.join('; ')}.`;
    }
    case 'rule':
      return code(`rule ${s.name}`);
    case 'reward':
      return `${code(`reward ${s.name}`)}\nReward${s.family ? ` family ${s.name}[${s.family.lo}] … ${s.name}[${s.family.hi}]` : ''}; its moments are computed per run.`;
    case 'loop':
      return `${code(s.name)}\nLoop variable${s.owner ? ` of \`${s.owner}\`` : ''}.`;
    case 'let':
      return `${code(`let ${s.name}`)}\nLocal value${s.owner ? ` of rule \`${s.owner}\`` : ''}.`;
    default:
      return code(`model ${s.name}`);
  }
}

function subscript(n: number): string {
  return String(n).replace(/\d/g, (d) => '₀₁₂₃₄₅₆₇₈₉'[Number(d)]);
}
