// A realistic synthetic session, produced by the real host-side buffer from engine
// reports shaped like a two-locus run: exploration grows the graph, each block's
// subgraph appears and is freed after its trace is recorded, the caches keep the
// traces, a second run hits the cache, Clear Caches frees them, the engine restarts,
// and a run in the new engine is caught with a block still alive.

import { StudioBuffer } from '../../extension/host/panel/buffer';
import {
  type CategoryBytes,
  type Decomposition,
  MEMORY_CATEGORIES,
  type MemorySnapshot,
  type RunResult,
  type SccInfo,
} from '../../extension/protocol/engine';
import type { DistributionResult, PanelModel, StudioSnapshot } from '../../extension/protocol/webview';
import { random } from '../random';

export const T0 = Date.UTC(2026, 10, 26, 14, 0, 0);
const MB = 1024 * 1024;

export const TWO_LOCUS_MODEL: PanelModel = {
  uri: 'file:///work/models/two_locus.phasic',
  name: 'two_locus',
  params: [
    { name: 'coal', default: 1, lo: 0, hi: null },
    { name: 'rec', default: 1, lo: 0, hi: 10 },
  ],
};

/** A condensation shaped like a recombination model's: S, a few big blocks, chains of trivial components, absorption. */
export function syntheticDecomposition(count: number, seed = 7): Decomposition {
  const rnd = random(seed);
  const sccs: SccInfo[] = [];
  for (let id = 0; id < count; id++) {
    const big = id > 0 && id < count - 1 && rnd() < 0.12;
    const vertices =
      id === 0 || id === count - 1
        ? 1
        : big
          ? 4 + Math.floor(rnd() * 120)
          : rnd() < 0.5
            ? 1
            : 2 + Math.floor(rnd() * 3);
    const source = vertices < 4 ? 'trivial' : (['recorded', 'memory', 'disk'] as const)[Math.floor(rnd() * 3)];
    sccs.push({
      id,
      vertices,
      internalEdges: vertices === 1 ? 0 : vertices * 3,
      exitEdges: 1 + Math.floor(rnd() * 4),
      absorbing: id === count - 1,
      source,
      operations: source === 'trivial' ? 0 : vertices * 40,
      bytes: source === 'trivial' ? 0 : vertices * 2400,
      recordMs: source === 'recorded' ? vertices * 0.05 : 0,
      key:
        source === 'trivial'
          ? ''
          : Math.floor(rnd() * 2 ** 52)
              .toString(16)
              .padStart(16, '0'),
      firstVertex: id * 3,
    });
  }
  const edges: Array<[number, number]> = [];
  const seen = new Set<string>();
  const add = (a: number, b: number) => {
    const k = `${a},${b}`;
    if (a < b && !seen.has(k)) {
      seen.add(k);
      edges.push([a, b]);
    }
  };
  // Every component is reachable from S's (id 0), as in a real condensation.
  for (let id = 1; id < count; id++) add(Math.max(0, id - 1 - Math.floor(rnd() * 8)), id);
  for (let id = 0; id < count - 1; id++) {
    add(id, Math.min(count - 1, id + 1 + Math.floor(rnd() * 6)));
    if (rnd() < 0.6) add(id, Math.min(count - 1, id + 1 + Math.floor(rnd() * 30)));
    if (rnd() < 0.3) add(id, count - 1);
  }
  return { sccs, edges };
}

export function syntheticRun(d: Decomposition): RunResult {
  const blocks = d.sccs.filter((s) => s.source !== 'trivial');
  const zero: CategoryBytes = { graph: 0, subgraphs: 0, traces: 0, cache: 0, evaluation: 0, workspace: 0 };
  return {
    model: 'two_locus',
    vertices: d.sccs.reduce((n, s) => n + s.vertices, 0),
    edges: d.sccs.reduce((n, s) => n + s.internalEdges + s.exitEdges, 0),
    absorbing: 1,
    reused: false,
    sccs: {
      count: d.sccs.length,
      largest: Math.max(...d.sccs.map((s) => s.vertices)),
      blocks: blocks.length,
      recorded: blocks.filter((b) => b.source === 'recorded').length,
      cached: blocks.filter((b) => b.source !== 'recorded').length,
    },
    trace: {
      operations: blocks.reduce((n, s) => n + s.operations, 0),
      commands: 5123,
      bytes: blocks.reduce((n, s) => n + s.bytes, 0),
    },
    params: { coal: 1, rec: 1 },
    moments: { time: [1.6, 3.6266666666666665, 11.232], tmrca: [1.6, 3.6266666666666665] },
    variance: { time: 1.0666666666666667, tmrca: 1.0666666666666667 },
    covariance: { 'time,tmrca': 1.0666666666666667 },
    timingsMs: { explore: 212.4, scc: 8.1, record: 1450.2, evaluate: 0.41, total: 1690.3 },
    memory: {
      accountedBytes: { ...zero, cache: 24 * MB },
      peakAccountedBytes: 140 * MB,
      rssBytes: 210 * MB,
      rssPeakBytes: 260 * MB,
      blocks: [],
    },
    traceKey: '9c1f2e3d4b5a6978',
    ruleFirings: { coalesce: 120_000, recombine: 40_000 },
    warnings: [],
    decomposition: d,
  };
}

export function syntheticSession(): StudioSnapshot {
  let clock = T0;
  const buffer = new StudioBuffer(undefined, () => clock);
  const rnd = random(42);
  const mem: CategoryBytes = { graph: 0, subgraphs: 0, traces: 0, cache: 0, evaluation: 0, workspace: 0 };
  let engineStart = T0;
  buffer.setEngine({ version: '0.1.0', pid: 4242, startedAt: engineStart });
  const sample = (ms: number) => {
    clock = engineStart + ms;
    const total = MEMORY_CATEGORIES.reduce((s, c) => s + mem[c], 0);
    const snap: MemorySnapshot = {
      timeMs: ms,
      accountedBytes: { ...mem },
      peakAccountedBytes: total,
      rssBytes: 58 * MB + total * 1.08 + rnd() * 3 * MB,
      cache: { entries: 0, bytes: mem.cache, diskFiles: 0, diskBytes: 0 },
    };
    buffer.addSample(snap);
  };
  const idle = (from: number, to: number) => {
    for (let t = from; t < to; t += 50) sample(t);
  };
  /** One run: exploration, blocks recorded (or hit), evaluation; returns its end time. */
  const run = (start: number, blocks: number, hit: boolean, finish = true): number => {
    buffer.addMarker({ kind: 'runStart', timeMs: start, label: 'two_locus' });
    let t = start;
    for (; t < start + 600; t += 25) {
      mem.graph = Math.min(48 * MB, mem.graph + 2 * MB);
      sample(t);
    }
    for (let b = 0; b < blocks; b++) {
      const bytes = (2 + rnd() * 10) * MB;
      const scc = 3 + b * 4;
      if (!hit) {
        buffer.addBlockEvent({ kind: 'created', scc, vertices: Math.round(bytes / 30000), bytes, timeMs: t });
        mem.subgraphs += bytes;
        const span = 60 + rnd() * 180;
        for (const end = t + span; t < end; t += 20) {
          mem.traces += bytes * 0.02;
          sample(t);
        }
        if (!finish && b === blocks - 1) return t; // caught mid-block
        buffer.addBlockEvent({ kind: 'freed', scc, vertices: Math.round(bytes / 30000), bytes, timeMs: t });
        mem.subgraphs -= bytes;
        mem.cache += mem.traces;
        mem.traces = 0;
      }
      sample(t);
      t += 20;
    }
    mem.evaluation = 6 * MB;
    for (const end = t + 200; t < end; t += 25) sample(t);
    mem.graph = 0;
    mem.evaluation = 0;
    sample(t);
    buffer.addMarker({ kind: 'runEnd', timeMs: t });
    return t;
  };
  idle(0, 1500);
  let t = run(1500, 12, false);
  idle(t + 50, t + 2000);
  t = run(t + 2000, 12, true);
  idle(t + 50, t + 1500);
  t += 1500;
  const freed = mem.cache;
  buffer.addMarker({ kind: 'clear', timeMs: t, freedBytes: freed });
  mem.cache = 0;
  idle(t, t + 1500);
  t += 1500;
  buffer.addMarker({ kind: 'restart', timeMs: t });
  engineStart = engineStart + t + 400;
  buffer.setEngine({ version: '0.1.0', pid: 4243, startedAt: engineStart });
  idle(0, 1000);
  const d = syntheticDecomposition(60);
  buffer.setRun(TWO_LOCUS_MODEL, syntheticRun(d));
  run(1000, 4, false, false);
  return buffer.snapshot();
}

/**
 * A distribution result shaped like the engine's, from a closed form written here: Y
 * is 0 with probability `atom`, else exponential with `rate` (CDF atom + (1 − atom)(1 −
 * e^(−rate t)), density (1 − atom) rate e^(−rate t), p-quantile −ln((1 − p)/(1 − atom))/rate
 * above the atom). On 200 points from 0 to the 0.999 quantile, as the engine's default grid.
 */
export function syntheticDistribution(
  reward: string,
  rate: number,
  atom = 0,
  params: Record<string, number> = { coal: 1, rec: 1 },
): DistributionResult {
  const quantile = (p: number) => (p <= atom ? 0 : -Math.log((1 - p) / (1 - atom)) / rate);
  const end = quantile(0.999);
  const times = Array.from({ length: 200 }, (_, i) => (end * i) / 199);
  return {
    traceKey: '9c1f2e3d4b5a6978',
    reward,
    params,
    times,
    cdf: times.map((t) => atom + (1 - atom) * (1 - Math.exp(-rate * t))),
    survival: times.map((t) => (1 - atom) * Math.exp(-rate * t)),
    survivalFloor: 1e-289,
    pdf: times.map((t) => (1 - atom) * rate * Math.exp(-rate * t)),
    atom,
    quantiles: [0.05, 0.25, 0.5, 0.75, 0.95, 0.99].map((p) => ({
      p,
      value: quantile(p),
      low: quantile(p - 1e-10),
      high: quantile(p + 1e-10),
    })),
    epsilon: 1e-10,
    method: { name: 'uniformization', rate: 2 * rate, steps: 57, states: 12, eliminated: 3 },
    timingsMs: { transform: 0.05, uniformize: 0.8, quantiles: 0.1, total: 0.95 },
  };
}
