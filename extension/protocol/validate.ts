// Validation of what the engine process sends the extension host. The engine is a
// separate process speaking JSON-RPC: a reply that does not have the shape of
// protocol/requests.ts (a bug in another version of the engine, a corrupted stream,
// a process that is not ours on the other end) must be rejected with a message
// naming the field, never half-used by the host or forwarded to the webview.
//
// Use: `parseEngineReply(method, value)` on every request's result and
// `parseEngineNotification(method, params)` on every notification; act only on
// `ok` results. Counts and byte sizes must be finite and >= 0, moments finite or one
// of the strings "Infinity", "-Infinity", "NaN" (protocol/moment.ts); the
// lists' lengths are bounded so that a hostile reply cannot make the host allocate.
import type { BlockEvent, ClearResult, EngineMessage, MemorySnapshot, Progress, RunPhase, RunResult } from './engine';
import type { EngineInfo, EngineNotifications, EngineRequests, ModelSpec, RunReply } from './requests';
import {
  bool,
  categories,
  count,
  decomposition,
  evaluateResult,
  guard,
  int,
  list,
  moments,
  nonNeg,
  num,
  obj,
  oneOf,
  record,
  runCounts,
  sccDetail,
  str,
  type Parsed,
} from './check';

function message(v: unknown, path: string): EngineMessage {
  const o = obj(v, path);
  const m: EngineMessage = { message: str(o.message, `${path}.message`), site: int(o.site, `${path}.site`) };
  if (o.rule !== undefined) m.rule = str(o.rule, `${path}.rule`);
  return m;
}

const RUN_PHASES: readonly RunPhase[] = ['exploring', 'decomposing', 'recording', 'composing', 'evaluating'];

function runResult(v: unknown, path: string): RunResult {
  const o = obj(v, path);
  const sccs = obj(o.sccs, `${path}.sccs`);
  const trace = obj(o.trace, `${path}.trace`);
  const memory = obj(o.memory, `${path}.memory`);
  return {
    model: str(o.model, `${path}.model`),
    ...runCounts(o, sccs, trace, path),
    ...moments(o, path),
    timings_ms: record(o.timings_ms, `${path}.timings_ms`, nonNeg) as RunResult['timings_ms'],
    memory: {
      accounted_bytes: categories(memory.accounted_bytes, `${path}.memory.accounted_bytes`),
      peak_accounted_bytes: nonNeg(memory.peak_accounted_bytes, `${path}.memory.peak_accounted_bytes`),
      rss_bytes: nonNeg(memory.rss_bytes, `${path}.memory.rss_bytes`),
      blocks: list(memory.blocks, `${path}.memory.blocks`, (b, p) => {
        const x = obj(b, p);
        return {
          scc: count(x.scc, `${p}.scc`),
          vertices: count(x.vertices, `${p}.vertices`),
          bytes: nonNeg(x.bytes, `${p}.bytes`),
          created_ms: nonNeg(x.created_ms, `${p}.created_ms`),
          freed_ms: nonNeg(x.freed_ms, `${p}.freed_ms`),
        };
      }),
    },
    traceKey: str(o.traceKey, `${path}.traceKey`, 64),
    ruleFirings: record(o.ruleFirings, `${path}.ruleFirings`, count),
    warnings: list(o.warnings, `${path}.warnings`, message),
    decomposition: decomposition(o.decomposition, `${path}.decomposition`),
  };
}

function modelSpec(v: unknown, path: string): ModelSpec {
  const o = obj(v, path);
  const nullableNum = (x: unknown, p: string) => (x === null ? null : num(x, p));
  return {
    uri: str(o.uri, `${path}.uri`),
    name: str(o.name, `${path}.name`),
    params: list(o.params, `${path}.params`, (x, p) => {
      const q = obj(x, p);
      return { name: str(q.name, `${p}.name`), default: num(q.default, `${p}.default`), lo: nullableNum(q.lo, `${p}.lo`), hi: nullableNum(q.hi, `${p}.hi`) };
    }),
    constants: list(o.constants, `${path}.constants`, (x, p) => {
      const q = obj(x, p);
      return { name: str(q.name, `${p}.name`), value: num(q.value, `${p}.value`), integer: bool(q.integer, `${p}.integer`) };
    }),
    rewards: list(o.rewards, `${path}.rewards`, str),
    stateVariables: list(o.stateVariables, `${path}.stateVariables`, (x, p) => {
      const q = obj(x, p);
      return { name: str(q.name, `${p}.name`), offset: count(q.offset, `${p}.offset`), dims: list(q.dims, `${p}.dims`, count) };
    }),
  };
}

function runReply(v: unknown, path: string): RunReply {
  const o = obj(v, path);
  return { model: modelSpec(o.model, `${path}.model`), result: runResult(o.result, `${path}.result`) };
}

function memorySnapshot(v: unknown, path: string): MemorySnapshot {
  const o = obj(v, path);
  const cache = obj(o.cache, `${path}.cache`);
  return {
    time_ms: nonNeg(o.time_ms, `${path}.time_ms`),
    accounted_bytes: categories(o.accounted_bytes, `${path}.accounted_bytes`),
    peak_accounted_bytes: nonNeg(o.peak_accounted_bytes, `${path}.peak_accounted_bytes`),
    rss_bytes: nonNeg(o.rss_bytes, `${path}.rss_bytes`),
    cache: {
      entries: count(cache.entries, `${path}.cache.entries`),
      bytes: nonNeg(cache.bytes, `${path}.cache.bytes`),
      diskFiles: count(cache.diskFiles, `${path}.cache.diskFiles`),
      diskBytes: nonNeg(cache.diskBytes, `${path}.cache.diskBytes`),
    },
  };
}

function clearResult(v: unknown, path: string): ClearResult {
  const o = obj(v, path);
  const disk = obj(o.disk, `${path}.disk`);
  return {
    freed_bytes: categories(o.freed_bytes, `${path}.freed_bytes`),
    traces: count(o.traces, `${path}.traces`),
    subgraphs: count(o.subgraphs, `${path}.subgraphs`),
    disk: {
      files: count(disk.files, `${path}.disk.files`),
      bytes: nonNeg(disk.bytes, `${path}.disk.bytes`),
      failed: count(disk.failed, `${path}.disk.failed`),
      ...(disk.error === undefined ? {} : { error: str(disk.error, `${path}.disk.error`) }),
    },
    rss_before: nonNeg(o.rss_before, `${path}.rss_before`),
    rss_after: nonNeg(o.rss_after, `${path}.rss_after`),
    time_ms: nonNeg(o.time_ms, `${path}.time_ms`),
  };
}

function blockEvent(v: unknown, path: string): BlockEvent {
  const o = obj(v, path);
  return {
    kind: oneOf(o.kind, ['created', 'freed'] as const, `${path}.kind`),
    scc: count(o.scc, `${path}.scc`),
    vertices: count(o.vertices, `${path}.vertices`),
    bytes: nonNeg(o.bytes, `${path}.bytes`),
    time_ms: nonNeg(o.time_ms, `${path}.time_ms`),
  };
}

function progress(v: unknown, path: string): Progress {
  const o = obj(v, path);
  return { phase: oneOf(o.phase, RUN_PHASES, `${path}.phase`), done: count(o.done, `${path}.done`), total: count(o.total, `${path}.total`) };
}

function engineInfo(v: unknown, path: string): EngineInfo {
  const o = obj(v, path);
  return { version: str(o.version, `${path}.version`, 200), pid: count(o.pid, `${path}.pid`), startedAt: nonNeg(o.startedAt, `${path}.startedAt`) };
}

type ReplyParsers = { [M in keyof EngineRequests]: (v: unknown, path: string) => EngineRequests[M]['result'] };
const REPLIES: ReplyParsers = {
  'phasic/engineInfo': engineInfo,
  'phasic/describe': modelSpec,
  'phasic/run': runReply,
  'phasic/evaluate': evaluateResult,
  'phasic/clearCaches': clearResult,
  'phasic/memory': memorySnapshot,
  'phasic/sccDetail': sccDetail,
};

export type EngineToHost = 'phasic/progress' | 'phasic/memorySample' | 'phasic/blockEvent' | 'phasic/warning';
type NotificationParsers = { [M in EngineToHost]: (v: unknown, path: string) => EngineNotifications[M] };
const NOTIFICATIONS: NotificationParsers = {
  'phasic/progress': (v, path) => {
    const o = obj(v, path);
    return { runId: count(o.runId, `${path}.runId`), progress: progress(o.progress, `${path}.progress`) };
  },
  'phasic/memorySample': memorySnapshot,
  'phasic/blockEvent': blockEvent,
  'phasic/warning': (v, path) => {
    const o = obj(v, path);
    return { uri: str(o.uri, `${path}.uri`), warning: message(o.warning, `${path}.warning`) };
  },
};

/** Checks the result of an engine request against its type. */
export function parseEngineReply<M extends keyof EngineRequests>(method: M, value: unknown): Parsed<EngineRequests[M]['result']> {
  return guard(() => (REPLIES[method] as (v: unknown, path: string) => EngineRequests[M]['result'])(value, `${method} reply`));
}

/** Checks an engine → host notification's parameters against their type. */
export function parseEngineNotification<M extends EngineToHost>(method: M, params: unknown): Parsed<EngineNotifications[M]> {
  return guard(() => (NOTIFICATIONS[method] as (v: unknown, path: string) => EngineNotifications[M])(params, method));
}
