// The validation primitives and the parsers of engine types shared by the two
// trust boundaries: protocol/validate.ts (engine process → extension host) and
// protocol/webview.ts (host ↔ webview). Each engine type is parsed here once, so the
// two boundaries cannot drift apart on what a valid SCC or evaluation is. The
// webview bundle imports this file, so it must stay free of Node and vscode imports.
//
// Parsers throw `Invalid` with a message naming the path; `guard` turns that into a
// `Parsed<T>` and lets every other exception (a bug) through.
import {
  MEMORY_CATEGORIES,
  type CategoryBytes,
  type Decomposition,
  type EvaluateResult,
  type RunResult,
  type SccDetail,
  type SccInfo,
  type TraceSource,
} from './engine';
import { NON_FINITE, type Moment } from './moment';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** No list a peer sends has more entries than this (SCCs, blocks, rewards, ...). */
export const MAX_LIST = 10_000_000;
export const MAX_STRING = 1 << 20;

class Invalid extends Error {}

export function fail(path: string, expected: string): never {
  throw new Invalid(`${path}: expected ${expected}`);
}

export function guard<T>(parse: () => T): Parsed<T> {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, error: error.message };
    throw error;
  }
}

export type Check<T> = (v: unknown, path: string) => T;

export function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object');
  return v as Record<string, unknown>;
}

export function num(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'a finite number');
  return v;
}

export function nonNeg(v: unknown, path: string): number {
  if (num(v, path) < 0) fail(path, 'a number ≥ 0');
  return v as number;
}

export function int(v: unknown, path: string): number {
  if (!Number.isSafeInteger(v)) fail(path, 'an integer');
  return v as number;
}

/** A count or an index. `expected` is the wording the caller's messages promise. */
export function count(v: unknown, path: string, expected = 'a whole number >= 0'): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) fail(path, expected);
  return v as number;
}

export function str(v: unknown, path: string, max = MAX_STRING): string {
  if (typeof v !== 'string' || v.length > max) fail(path, `a string of at most ${max} characters`);
  return v;
}

export function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'a boolean');
  return v;
}

export function oneOf<T extends string>(v: unknown, options: readonly T[], path: string): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) fail(path, options.join(' | '));
  return v as T;
}

/** An array, unchecked items: for hot paths that check items without building paths. */
export function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v) || v.length > MAX_LIST) fail(path, `an array of at most ${MAX_LIST} entries`);
  return v;
}

export function list<T>(v: unknown, path: string, item: Check<T>): T[] {
  return arr(v, path).map((x, i) => item(x, `${path}[${i}]`));
}

/**
 * An object keyed by names the modeller chose (parameters, rewards, rules). The copy
 * has no prototype: `__proto__` stays an ordinary key (assigning it to `{}` would
 * set the prototype instead), and reading an absent `constructor` gives undefined.
 */
export function record<T>(v: unknown, path: string, item: Check<T>): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const [k, x] of Object.entries(obj(v, path))) out[k] = item(x, `${path}.${k}`);
  return out;
}

/** `r[name]` when `name` is r's own key: a record parsed elsewhere may still have a prototype. */
export function entry<T>(r: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(r, name) ? r[name] : undefined;
}

export function optional<T>(v: unknown, parse: (v: unknown) => T): T | undefined {
  return v === undefined ? undefined : parse(v);
}

export function nullable<T>(v: unknown, parse: (v: unknown) => T): T | null {
  return v === null ? null : parse(v);
}

export const numbers: Check<number[]> = (v, path) => list(v, path, num);

// Engine types, parsed the same way at both boundaries.

export function categories(v: unknown, path: string): CategoryBytes {
  const o = obj(v, path);
  const out = {} as CategoryBytes;
  for (const c of MEMORY_CATEGORIES) out[c] = nonNeg(o[c], `${path}.${c}`);
  return out;
}

const TRACE_SOURCES: readonly TraceSource[] = ['recorded', 'memory', 'disk', 'trivial'];

/** `keyMax`: the engine sends 64-hex-digit keys; the webview side allows more slack. */
export function scc(v: unknown, path: string, keyMax = 64): SccInfo {
  const o = obj(v, path);
  return {
    id: count(o.id, `${path}.id`),
    vertices: count(o.vertices, `${path}.vertices`),
    internalEdges: count(o.internalEdges, `${path}.internalEdges`),
    exitEdges: count(o.exitEdges, `${path}.exitEdges`),
    absorbing: bool(o.absorbing, `${path}.absorbing`),
    source: oneOf(o.source, TRACE_SOURCES, `${path}.source`),
    operations: count(o.operations, `${path}.operations`),
    bytes: nonNeg(o.bytes, `${path}.bytes`),
    recordMs: nonNeg(o.recordMs, `${path}.recordMs`),
    key: str(o.key, `${path}.key`, keyMax),
    firstVertex: count(o.firstVertex, `${path}.firstVertex`),
  };
}

export function decomposition(v: unknown, path: string, keyMax = 64): Decomposition {
  const o = obj(v, path);
  const sccs = list(o.sccs, `${path}.sccs`, (s, p) => scc(s, p, keyMax));
  sccs.forEach((s, i) => s.id === i || fail(`${path}.sccs[${i}].id`, `${i} (components in id order)`));
  const edges = list(o.edges, `${path}.edges`, (e, p) => {
    const pair = list(e, p, count);
    if (pair.length !== 2 || pair[0] >= sccs.length || pair[1] >= sccs.length) fail(p, 'a pair of SCC ids');
    return pair as [number, number];
  });
  return { sccs, edges };
}

/** A run's sizes. `sccs` and `trace` are `o`'s sub-objects, checked by the caller. */
export function runCounts(
  o: Record<string, unknown>,
  sccs: Record<string, unknown>,
  trace: Record<string, unknown>,
  path: string,
  whole: Check<number> = count,
): Pick<RunResult, 'vertices' | 'edges' | 'absorbing' | 'reused' | 'sccs' | 'trace'> {
  return {
    vertices: whole(o.vertices, `${path}.vertices`),
    edges: whole(o.edges, `${path}.edges`),
    absorbing: whole(o.absorbing, `${path}.absorbing`),
    reused: bool(o.reused, `${path}.reused`),
    sccs: {
      count: whole(sccs.count, `${path}.sccs.count`),
      largest: whole(sccs.largest, `${path}.sccs.largest`),
      blocks: whole(sccs.blocks, `${path}.sccs.blocks`),
      recorded: whole(sccs.recorded, `${path}.sccs.recorded`),
      cached: whole(sccs.cached, `${path}.sccs.cached`),
    },
    trace: {
      operations: whole(trace.operations, `${path}.trace.operations`),
      commands: whole(trace.commands, `${path}.trace.commands`),
      bytes: nonNeg(trace.bytes, `${path}.trace.bytes`),
    },
  };
}

/** A moment: a finite number, or the string form of a non-finite one (protocol/moment.ts). */
export function moment(v: unknown, path: string): Moment {
  if (typeof v === 'string' && (NON_FINITE as readonly string[]).includes(v)) return v as Moment;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, `a finite number or one of ${NON_FINITE.map((x) => `"${x}"`).join(', ')}`);
  return v;
}

/** The moments block a run and an evaluation both carry. */
export function moments(o: Record<string, unknown>, path: string): Omit<EvaluateResult, 'evaluate_ms'> {
  const out: Omit<EvaluateResult, 'evaluate_ms'> = {
    params: record(o.params, `${path}.params`, num),
    moments: record(o.moments, `${path}.moments`, (v, p) => list(v, p, moment)),
    variance: record(o.variance, `${path}.variance`, moment),
    covariance: record(o.covariance, `${path}.covariance`, moment),
  };
  if (o.nonFinite !== undefined) out.nonFinite = str(o.nonFinite, `${path}.nonFinite`, 4096);
  return out;
}

export function evaluateResult(v: unknown, path: string): EvaluateResult {
  const o = obj(v, path);
  return { ...moments(o, path), evaluate_ms: nonNeg(o.evaluate_ms, `${path}.evaluate_ms`) };
}

/** `nameMax`: the longest state-variable name the caller accepts. */
export function sccDetail(v: unknown, path: string, nameMax = MAX_STRING): SccDetail {
  const o = obj(v, path);
  const variables = list(o.variables, `${path}.variables`, (s, p) => str(s, p, nameMax));
  const states = list(o.states, `${path}.states`, numbers);
  const edges = list(o.edges, `${path}.edges`, (e, p) => {
    const t = list(e, p, num);
    if (t.length !== 3 || !Number.isSafeInteger(t[0]) || !Number.isSafeInteger(t[1]) || t[0] < 0 || t[1] < 0 || t[0] >= states.length || t[1] >= states.length) {
      fail(p, 'local vertex indices: [from, to, rate]');
    }
    return t as [number, number, number];
  });
  return { scc: count(o.scc, `${path}.scc`), variables, states, edges, truncated: bool(o.truncated, `${path}.truncated`) };
}
