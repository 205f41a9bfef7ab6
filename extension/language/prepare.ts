// From a model file's text to what the engine runs, for every caller: the engine
// process (language server) and the CLI. Pure: the caller reads the file; this says
// what it is, what the engine loads, and what the panel and the overrides input
// need to know about it.
//
// Three kinds of file, told apart by name and, for a name that says neither, by
// content: a `.phasic` source (compiled here, with constant overrides), a compiled
// model (`"format": "phasic-compiled-model"`, passed through with its parameters and
// sites), or a phasic `Graph.serialize()` graph (passed through; parameters p1…pP).

import type { CompiledModel, Site } from '../protocol/compiled-model';
import { check } from './checker';
import { compile } from './compile';
import { type Diagnostic, DiagnosticSink } from './diagnostics';
import { parse } from './parser';

/** What the panel and the overrides input need to know of a model; the host adds its URI. */
export interface ModelOutline {
  name: string;
  params: Array<{ name: string; default: number; lo: number | null; hi: number | null }>;
  /** Constants with the values this run uses (overrides applied), in declaration order. */
  constants: Array<{ name: string; value: number; integer: boolean }>;
  rewards: string[];
  stateVariables: Array<{ name: string; offset: number; dims: number[] }>;
}

export interface PreparedModel {
  kind: 'source' | 'compiled' | 'graph';
  outline: ModelOutline;
  /** The text the engine loads: compiled-model JSON or a phasic graph JSON. */
  engineText: string;
  /** Source ranges of compiled-model sites, for placing engine errors; [] for graphs. */
  sites: Site[];
  /** The front end's findings (warnings only: a model with errors is not prepared). */
  diagnostics: Diagnostic[];
}

export interface PreparationFailure {
  /** The first error, without a location prefix. */
  message: string;
  /** 0-based position of the first error, when it points into the file. */
  at?: { line: number; character: number };
  /** How many further errors there are. */
  moreErrors: number;
  diagnostics: Diagnostic[];
}

export type Preparation = { ok: true; model: PreparedModel } | { ok: false; failure: PreparationFailure };

/** The front end's parser, replaceable so a test can count how often a preparation parses. */
export type Parse = typeof parse;

/** The file name without its folders: what errors and graph names are made of. */
function baseName(fileName: string): string {
  return fileName.replace(/^.*[\\/]/, '');
}

function isJsonFile(fileName: string, text: string): boolean {
  if (fileName.endsWith('.json')) return true;
  if (fileName.endsWith('.phasic')) return false;
  // Neither: a phasic model never starts with `{`, a JSON model always does.
  return text.trimStart().startsWith('{');
}

/** Which way `prepareModel` will read a file: compiled from source, or loaded as JSON. */
export function isModelSource(fileName: string, text: string): boolean {
  return !isJsonFile(fileName, text);
}

export function prepareModel(
  text: string,
  fileName: string,
  overrides: Readonly<Record<string, number>>,
  parseText: Parse = parse,
): Preparation {
  return isJsonFile(fileName, text) ? prepareJson(text, fileName) : prepareSource(text, fileName, overrides, parseText);
}

/**
 * One parse serves the compilation and the outline. Constants are listed with the
 * values the run uses; a constant derived from an overridden one keeps its declared
 * value (the value without overrides), as the overrides input shows it, so the
 * checker runs a second time on the same tree when there are overrides.
 */
function prepareSource(
  text: string,
  fileName: string,
  overrides: Readonly<Record<string, number>>,
  parseText: Parse,
): Preparation {
  const overrideMap = new Map(Object.entries(overrides));
  const sink = new DiagnosticSink();
  const ast = parseText(text, sink);
  const checked = check(ast, text, sink, overrideMap);
  const model = sink.hasErrors ? undefined : compile(ast, checked, baseName(fileName), sink);
  if (!model) {
    const errors = sink.list.filter((d) => d.severity === 'error');
    const first = errors[0];
    return {
      ok: false,
      failure: {
        message: first?.message ?? 'the model does not compile',
        at: first?.range.start,
        moreErrors: Math.max(0, errors.length - 1),
        diagnostics: sink.list,
      },
    };
  }
  const declared = overrideMap.size === 0 ? checked : check(ast, text, new DiagnosticSink(), new Map());
  const constants = declared.symbols
    .filter((s) => s.kind === 'const' && s.value !== undefined)
    .map((s) => ({ name: s.name, value: overrideMap.get(s.name) ?? s.value!, integer: s.integer ?? false }));
  return {
    ok: true,
    model: {
      kind: 'source',
      outline: { ...outlineOf(model), constants },
      engineText: JSON.stringify(model),
      sites: model.sites,
      diagnostics: sink.list,
    },
  };
}

function outlineOf(model: CompiledModel): ModelOutline {
  return {
    name: model.name,
    params: model.params.map((p) => ({ name: p.name, default: p.default, lo: p.lo, hi: p.hi })),
    constants: [],
    rewards: model.rewards.map((r) => r.name),
    stateVariables: model.variables.map((v) => ({ name: v.name, offset: v.offset, dims: v.dims })),
  };
}

/**
 * A JSON model goes to the engine as it is; the engine checks it in full. Only what
 * the outline needs is read here, and a field of the wrong type reads as absent.
 */
function prepareJson(text: string, fileName: string): Preparation {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      failure: {
        message: `${baseName(fileName)} is not valid JSON: ${(error as Error).message}`,
        moreErrors: 0,
        diagnostics: [],
      },
    };
  }
  const o = (json !== null && typeof json === 'object' ? json : {}) as Record<string, unknown>;
  if (o.format === 'phasic-compiled-model') return { ok: true, model: compiledModel(o, text) };
  const paramCount = typeof o.param_length === 'number' ? o.param_length : 0;
  const stateLength = typeof o.state_length === 'number' ? o.state_length : 0;
  return {
    ok: true,
    model: {
      kind: 'graph',
      outline: {
        name: baseName(fileName).replace(/\.json$/, ''),
        params: Array.from({ length: paramCount }, (_, k) => ({ name: `p${k + 1}`, default: 1, lo: null, hi: null })),
        constants: [],
        rewards: ['time', ...Array.from({ length: stateLength }, (_, k) => `s${k}`)],
        stateVariables: [{ name: 's', offset: 0, dims: [stateLength] }],
      },
      engineText: text,
      sites: [],
      diagnostics: [],
    },
  };
}

const list = (v: unknown): Array<Record<string, unknown>> =>
  Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => x !== null && typeof x === 'object') : [];
const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** A compiled model's outline, as its source's would be (the constants are already folded in). */
function compiledModel(o: Record<string, unknown>, text: string): PreparedModel {
  return {
    kind: 'compiled',
    outline: {
      name: str(o.name, 'model'),
      params: list(o.params).map((p, k) => ({
        name: str(p.name, `p${k + 1}`),
        default: num(p.default) ?? 1,
        lo: num(p.lo),
        hi: num(p.hi),
      })),
      constants: [],
      rewards: list(o.rewards).map((r, k) => str(r.name, `r${k}`)),
      stateVariables: list(o.variables).map((v) => ({
        name: str(v.name, 'v'),
        offset: num(v.offset) ?? 0,
        dims: Array.isArray(v.dims) ? v.dims.filter((d): d is number => typeof d === 'number') : [],
      })),
    },
    engineText: text,
    sites: Array.isArray(o.sites) ? (o.sites as Site[]) : [],
    diagnostics: [],
  };
}
