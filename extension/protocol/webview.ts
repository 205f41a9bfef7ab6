// The messages between the extension host and the Phasic Studio webview. One
// definition types both sides, and each side validates what it receives with the
// hand-written parsers below: the webview is a browser page (anything it posts is
// untrusted input to the host), and a host message that does not match is ignored by
// the webview rather than half-drawn. Documented in docs/webview.md.
//
// Time on the timeline is wall-clock epoch milliseconds: the host places each engine
// process's clock (`time_ms` since that process started) on it with the engine's
// start time, so samples of successive engine processes never overlap.
import type { CategoryBytes, Decomposition, EvaluateResult, RunResult, SccDetail } from './engine';
import {
  arr,
  categories,
  count,
  decomposition,
  evaluateResult,
  fail,
  guard,
  int,
  moments,
  nonNeg,
  nullable,
  num,
  obj,
  oneOf,
  optional,
  record,
  runCounts,
  sccDetail,
  str as checkedStr,
  type Parsed,
} from './check';

export type { Parsed } from './check';
export type { SccDetail } from './engine';

export const STUDIO_VIEW_TYPE = 'phasic.studio';

export const STUDIO_TABS = ['memory', 'scc', 'moments'] as const;
export type StudioTab = (typeof STUDIO_TABS)[number];

export interface PanelParam {
  name: string;
  default: number;
  lo: number | null;
  hi: number | null;
}

/** What the panel shows about the model a run belongs to. */
export interface PanelModel {
  uri: string;
  name: string;
  params: PanelParam[];
  /** Flattened state cell names (`c[1][0]`), to decode an SCC's states. */
  stateVariables?: string[];
}

/** One sample of the memory timeline, on the timeline clock. */
export interface TimelineSample {
  t: number;
  accounted: CategoryBytes;
  rss: number;
}

export interface TimelineBlock {
  scc: number;
  vertices: number;
  bytes: number;
  created: number;
  /** null while the subgraph is alive. */
  freed: number | null;
}

export const MARKER_KINDS = ['runStart', 'runEnd', 'cancel', 'restart', 'clear'] as const;
export type MarkerKind = (typeof MARKER_KINDS)[number];

export interface TimelineMarker {
  kind: MarkerKind;
  t: number;
  label?: string;
  /** Clear Caches: the bytes it returned. */
  freedBytes?: number;
}

/** Host-computed position of one SCC in the condensation drawing. */
export interface SccNodeLayout {
  id: number;
  layer: number;
  x: number;
  y: number;
  r: number;
}

export interface SccLayout {
  nodes: SccNodeLayout[];
  width: number;
  height: number;
  layers: number;
}

/** The parts of a run the panel draws (the run result, minus what it never shows). */
export interface PanelRun {
  model: PanelModel;
  result: Omit<RunResult, 'decomposition'>;
  decomposition: Decomposition;
  layout: SccLayout;
}

export interface EngineBadge {
  version: string;
  pid: number;
  startedAt: number;
}

/** An SCC's own graph in terms of the model, for the detail pane. */

/** Everything the panel has seen, sent once after each `ready`. */
export interface StudioSnapshot {
  tab: StudioTab;
  engine: EngineBadge | null;
  samples: TimelineSample[];
  blocks: TimelineBlock[];
  markers: TimelineMarker[];
  run: PanelRun | null;
}

export type HostMessage =
  | { type: 'snapshot'; snapshot: StudioSnapshot }
  | { type: 'engine'; engine: EngineBadge }
  | { type: 'samples'; samples: TimelineSample[] }
  | { type: 'block'; block: TimelineBlock }
  | { type: 'marker'; marker: TimelineMarker }
  | { type: 'run'; run: PanelRun }
  | { type: 'evaluation'; requestId: number; result?: EvaluateResult; error?: string }
  | { type: 'sccDetail'; requestId: number; detail?: SccDetail; error?: string }
  | { type: 'showTab'; tab: StudioTab }
  | { type: 'exported'; path?: string; error?: string };

export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'tab'; tab: StudioTab }
  | { type: 'evaluate'; requestId: number; traceKey: string; params: Record<string, number> }
  | { type: 'sccDetail'; requestId: number; traceKey: string; scc: number }
  | { type: 'exportSvg'; svg: string };

/** Largest SVG the host accepts for export (a 2,000-SCC view is ~1 MB). */
export const MAX_EXPORT_SVG_CHARS = 32 * 1024 * 1024;

// The host ↔ webview dialect of the shared checks: shorter strings by default (the
// webview has no use for megabyte strings) and indices worded for a UI developer.
const str = (v: unknown, path: string, max = 4096): string => checkedStr(v, path, max);
function index(v: unknown, path: string): number {
  num(v, path);
  int(v, path);
  return count(v, path, 'an integer ≥ 0');
}
const numberRecord = (v: unknown, path: string): Record<string, number> => record(v, path, num);

const isNonNeg = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;

/** The hot path for bulk samples: no path strings unless something is wrong. */
function samples(v: unknown, path: string): TimelineSample[] {
  return arr(v, path).map((x, i) => {
    const o = x as Record<string, unknown> | null;
    const a = (o && typeof o === 'object' ? o.accounted : null) as Record<string, unknown> | null;
    if (
      o && a && typeof a === 'object' && typeof o.t === 'number' && Number.isFinite(o.t) && isNonNeg(o.rss) &&
      isNonNeg(a.graph) && isNonNeg(a.subgraphs) && isNonNeg(a.traces) && isNonNeg(a.cache) && isNonNeg(a.evaluation)
    ) {
      return { t: o.t, accounted: { graph: a.graph, subgraphs: a.subgraphs, traces: a.traces, cache: a.cache, evaluation: a.evaluation }, rss: o.rss };
    }
    return sample(x, `${path}[${i}]`);
  });
}

function sample(v: unknown, path: string): TimelineSample {
  const o = obj(v, path);
  return { t: num(o.t, `${path}.t`), accounted: categories(o.accounted, `${path}.accounted`), rss: nonNeg(o.rss, `${path}.rss`) };
}

function block(v: unknown, path: string): TimelineBlock {
  const o = obj(v, path);
  return {
    scc: index(o.scc, `${path}.scc`),
    vertices: index(o.vertices, `${path}.vertices`),
    bytes: nonNeg(o.bytes, `${path}.bytes`),
    created: num(o.created, `${path}.created`),
    freed: nullable(o.freed, (x) => num(x, `${path}.freed`)),
  };
}

function marker(v: unknown, path: string): TimelineMarker {
  const o = obj(v, path);
  const m: TimelineMarker = { kind: oneOf(o.kind, MARKER_KINDS, `${path}.kind`), t: num(o.t, `${path}.t`) };
  const label = optional(o.label, (x) => str(x, `${path}.label`, 200));
  if (label !== undefined) m.label = label;
  const freed = optional(o.freedBytes, (x) => nonNeg(x, `${path}.freedBytes`));
  if (freed !== undefined) m.freedBytes = freed;
  return m;
}

function engineBadge(v: unknown, path: string): EngineBadge {
  const o = obj(v, path);
  return { version: str(o.version, `${path}.version`, 100), pid: index(o.pid, `${path}.pid`), startedAt: num(o.startedAt, `${path}.startedAt`) };
}

function param(v: unknown, path: string): PanelParam {
  const o = obj(v, path);
  return {
    name: str(o.name, `${path}.name`, 200),
    default: num(o.default, `${path}.default`),
    lo: nullable(o.lo ?? null, (x) => num(x, `${path}.lo`)),
    hi: nullable(o.hi ?? null, (x) => num(x, `${path}.hi`)),
  };
}

function model(v: unknown, path: string): PanelModel {
  const o = obj(v, path);
  const m: PanelModel = {
    uri: str(o.uri, `${path}.uri`),
    name: str(o.name, `${path}.name`, 200),
    params: arr(o.params, `${path}.params`).map((p, i) => param(p, `${path}.params[${i}]`)),
  };
  const vars = optional(o.stateVariables, (x) => arr(x, `${path}.stateVariables`).map((s, i) => str(s, `${path}.stateVariables[${i}]`, 200)));
  if (vars !== undefined) m.stateVariables = vars;
  return m;
}

function layout(v: unknown, path: string, count: number): SccLayout {
  const o = obj(v, path);
  const nodes = arr(o.nodes, `${path}.nodes`).map((n, i) => {
    const p = obj(n, `${path}.nodes[${i}]`);
    return {
      id: index(p.id, `${path}.nodes[${i}].id`),
      layer: index(p.layer, `${path}.nodes[${i}].layer`),
      x: num(p.x, `${path}.nodes[${i}].x`),
      y: num(p.y, `${path}.nodes[${i}].y`),
      r: nonNeg(p.r, `${path}.nodes[${i}].r`),
    };
  });
  if (nodes.length !== count || nodes.some((n, i) => n.id !== i)) fail(`${path}.nodes`, `one node per SCC, in id order (${count})`);
  return { nodes, width: nonNeg(o.width, `${path}.width`), height: nonNeg(o.height, `${path}.height`), layers: index(o.layers, `${path}.layers`) };
}

function runResult(v: unknown, path: string): Omit<RunResult, 'decomposition'> {
  // Only the fields the panel reads are checked in depth; the rest must have the
  // right shape at the top so a drawing never dereferences a missing object.
  const o = obj(v, path);
  const sccs = obj(o.sccs, `${path}.sccs`);
  const trace = obj(o.trace, `${path}.trace`);
  const timings = obj(o.timings_ms, `${path}.timings_ms`);
  const memory = obj(o.memory, `${path}.memory`);
  return {
    model: str(o.model, `${path}.model`, 200),
    ...runCounts(o, sccs, trace, path, index),
    ...moments(o, path),
    timings_ms: {
      explore: nonNeg(timings.explore, `${path}.timings_ms.explore`),
      scc: nonNeg(timings.scc, `${path}.timings_ms.scc`),
      record: nonNeg(timings.record, `${path}.timings_ms.record`),
      evaluate: nonNeg(timings.evaluate, `${path}.timings_ms.evaluate`),
      total: nonNeg(timings.total, `${path}.timings_ms.total`),
    },
    memory: {
      accounted_bytes: categories(memory.accounted_bytes, `${path}.memory.accounted_bytes`),
      peak_accounted_bytes: nonNeg(memory.peak_accounted_bytes, `${path}.memory.peak_accounted_bytes`),
      rss_bytes: nonNeg(memory.rss_bytes, `${path}.memory.rss_bytes`),
      blocks: arr(memory.blocks, `${path}.memory.blocks`).map((b, i) => {
        const p = obj(b, `${path}.memory.blocks[${i}]`);
        return {
          scc: index(p.scc, `${path}.memory.blocks[${i}].scc`),
          vertices: index(p.vertices, `${path}.memory.blocks[${i}].vertices`),
          bytes: nonNeg(p.bytes, `${path}.memory.blocks[${i}].bytes`),
          created_ms: num(p.created_ms, `${path}.memory.blocks[${i}].created_ms`),
          freed_ms: num(p.freed_ms, `${path}.memory.blocks[${i}].freed_ms`),
        };
      }),
    },
    traceKey: str(o.traceKey, `${path}.traceKey`, 200),
    ruleFirings: numberRecord(o.ruleFirings ?? {}, `${path}.ruleFirings`),
    warnings: arr(o.warnings ?? [], `${path}.warnings`).map((w, i) => {
      const p = obj(w, `${path}.warnings[${i}]`);
      return { message: str(p.message, `${path}.warnings[${i}].message`), site: int(p.site, `${path}.warnings[${i}].site`) };
    }),
  };
}

function panelRun(v: unknown, path: string): PanelRun {
  const o = obj(v, path);
  const d = decomposition(o.decomposition, `${path}.decomposition`, 200);
  return {
    model: model(o.model, `${path}.model`),
    result: runResult(o.result, `${path}.result`),
    decomposition: d,
    layout: layout(o.layout, `${path}.layout`, d.sccs.length),
  };
}

/** Validates a message the webview posted; the host acts only on `ok` results. */
export function parseWebviewMessage(v: unknown): Parsed<WebviewMessage> {
  return guard((): WebviewMessage => {
    const o = obj(v, 'message');
    switch (o.type) {
      case 'ready':
        return { type: 'ready' };
      case 'tab':
        return { type: 'tab', tab: oneOf(o.tab, STUDIO_TABS, 'tab') };
      case 'evaluate':
        return { type: 'evaluate', requestId: index(o.requestId, 'requestId'), traceKey: str(o.traceKey, 'traceKey', 200), params: numberRecord(o.params, 'params') };
      case 'sccDetail':
        return { type: 'sccDetail', requestId: index(o.requestId, 'requestId'), traceKey: str(o.traceKey, 'traceKey', 200), scc: index(o.scc, 'scc') };
      case 'exportSvg': {
        const svg = str(o.svg, 'svg', MAX_EXPORT_SVG_CHARS);
        if (!/^<svg[\s>]/.test(svg)) fail('svg', 'an <svg> document');
        return { type: 'exportSvg', svg };
      }
      default:
        return fail('type', 'ready | tab | evaluate | sccDetail | exportSvg');
    }
  });
}

/** Validates a message from the host; the webview ignores (and logs) the rest. */
export function parseHostMessage(v: unknown): Parsed<HostMessage> {
  return guard((): HostMessage => {
    const o = obj(v, 'message');
    switch (o.type) {
      case 'snapshot': {
        const s = obj(o.snapshot, 'snapshot');
        return {
          type: 'snapshot',
          snapshot: {
            tab: oneOf(s.tab, STUDIO_TABS, 'snapshot.tab'),
            engine: nullable(s.engine, (x) => engineBadge(x, 'snapshot.engine')),
            samples: samples(s.samples, 'snapshot.samples'),
            blocks: arr(s.blocks, 'snapshot.blocks').map((x, i) => block(x, `snapshot.blocks[${i}]`)),
            markers: arr(s.markers, 'snapshot.markers').map((x, i) => marker(x, `snapshot.markers[${i}]`)),
            run: nullable(s.run, (x) => panelRun(x, 'snapshot.run')),
          },
        };
      }
      case 'engine':
        return { type: 'engine', engine: engineBadge(o.engine, 'engine') };
      case 'samples':
        return { type: 'samples', samples: samples(o.samples, 'samples') };
      case 'block':
        return { type: 'block', block: block(o.block, 'block') };
      case 'marker':
        return { type: 'marker', marker: marker(o.marker, 'marker') };
      case 'run':
        return { type: 'run', run: panelRun(o.run, 'run') };
      case 'evaluation': {
        const m: HostMessage = { type: 'evaluation', requestId: index(o.requestId, 'requestId') };
        if (o.result !== undefined) m.result = evaluateResult(o.result, 'result');
        if (o.error !== undefined) m.error = str(o.error, 'error');
        if (!m.result && m.error === undefined) fail('evaluation', 'a result or an error');
        return m;
      }
      case 'sccDetail': {
        const m: HostMessage = { type: 'sccDetail', requestId: index(o.requestId, 'requestId') };
        if (o.detail !== undefined) m.detail = sccDetail(o.detail, 'detail', 200);
        if (o.error !== undefined) m.error = str(o.error, 'error');
        if (!m.detail && m.error === undefined) fail('sccDetail', 'a detail or an error');
        return m;
      }
      case 'showTab':
        return { type: 'showTab', tab: oneOf(o.tab, STUDIO_TABS, 'tab') };
      case 'exported': {
        const m: HostMessage = { type: 'exported' };
        if (o.path !== undefined) m.path = str(o.path, 'path');
        if (o.error !== undefined) m.error = str(o.error, 'error');
        return m;
      }
      default:
        return fail('type', 'a host message type');
    }
  });
}

