// The host-side buffer: engine clocks placed on one timeline, block bars opened and
// closed, the bound on samples with peaks kept, and the snapshot a reloaded page gets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimateMinMax, StudioBuffer } from '../../extension/host/panel/buffer';
import type { MemorySnapshot } from '../../extension/protocol/engine';
import type { TimelineSample } from '../../extension/protocol/webview';
import { SampleColumns } from '../../webview/store';

const snap = (timeMs: number, graph: number, rss = 100): MemorySnapshot => ({
  timeMs,
  accountedBytes: { graph, subgraphs: 0, traces: 0, cache: 0, evaluation: 0, workspace: 0 },
  peakAccountedBytes: graph,
  rssBytes: rss,
  cache: { entries: 0, bytes: 0, diskFiles: 0, diskBytes: 0 },
});

test('each engine process clock is placed at its start time; a restart closes the old bars', () => {
  const now = 50_000;
  const b = new StudioBuffer(undefined, () => now);
  b.setEngine({ version: '1', pid: 10, startedAt: 1_000 });
  assert.equal(b.addSample(snap(5, 1)).t, 1_005);
  b.addBlockEvent({ kind: 'created', scc: 3, vertices: 9, bytes: 64, timeMs: 20 });
  b.addBlockEvent({ kind: 'created', scc: 4, vertices: 9, bytes: 64, timeMs: 21 });
  const closed = b.addBlockEvent({ kind: 'freed', scc: 3, vertices: 9, bytes: 64, timeMs: 30 });
  assert.deepEqual(closed, { scc: 3, vertices: 9, bytes: 64, created: 1_020, freed: 1_030 });
  assert.equal(
    b.addBlockEvent({ kind: 'freed', scc: 99, vertices: 1, bytes: 1, timeMs: 31 }),
    null,
    'a release nobody saw begin',
  );
  assert.equal(b.addMarker({ kind: 'runEnd' }).t, 50_000, 'no engine time: now');
  b.setEngine({ version: '1', pid: 11, startedAt: 9_000 });
  assert.equal(b.addSample(snap(5, 1)).t, 9_005, 'the new engine restarts at 0 on its own clock');
  const s = b.snapshot();
  assert.deepEqual(
    s.blocks.map((x) => [x.scc, x.freed]),
    [
      [3, 1_030],
      [4, 9_000],
    ],
  );
  assert.equal(s.engine?.pid, 11);
});

test('before the engine reports its start, its clock is anchored at the first report', () => {
  const b = new StudioBuffer(undefined, () => 70_000);
  assert.equal(b.addSample(snap(2_000, 1)).t, 70_000);
  assert.equal(b.addSample(snap(2_500, 1)).t, 70_500);
});

test('min/max decimation keeps the lowest and highest of each four, in time order', () => {
  const s = (t: number, g: number): TimelineSample => ({
    t,
    accounted: { graph: g, subgraphs: 0, traces: 0, cache: 0, evaluation: 0, workspace: 0 },
    rss: 0,
  });
  const out = decimateMinMax([s(0, 5), s(1, 9), s(2, 1), s(3, 5), s(4, 7), s(5, 7), s(6, 7), s(7, 7), s(8, 3)]);
  assert.deepEqual(
    out.map((x) => x.t),
    [1, 2, 4, 8],
  );
});

test('hours of samples stay within the capacity and keep every peak', () => {
  const b = new StudioBuffer({ sampleCapacity: 1_000, blockCapacity: 10, markerCapacity: 5 }, () => 0);
  b.setEngine({ version: '1', pid: 1, startedAt: 0 });
  const peaks = new Set([1_234, 55_555, 99_998]);
  for (let i = 0; i < 100_000; i++) b.addSample(snap(i * 100, peaks.has(i) ? 1e9 : (i % 50) * 1000));
  const samples = b.snapshot().samples;
  assert.ok(samples.length <= 1_000, `${samples.length} samples kept`);
  const kept = samples.filter((x) => x.accounted.graph === 1e9).map((x) => x.t / 100);
  assert.deepEqual(kept, [...peaks]);
  assert.ok(
    samples.every((x, i) => i === 0 || x.t > samples[i - 1].t),
    'in time order',
  );
  assert.equal(samples[samples.length - 1].t, 99_999 * 100, 'the newest sample is always kept');
  for (let i = 0; i < 20; i++) b.addMarker({ kind: 'runStart', timeMs: i });
  assert.deepEqual(
    b.snapshot().markers.map((m) => m.t),
    [15, 16, 17, 18, 19],
  );
});

test('the block list drops finished bars first, never a live one', () => {
  const b = new StudioBuffer({ sampleCapacity: 10, blockCapacity: 3, markerCapacity: 5 }, () => 0);
  b.setEngine({ version: '1', pid: 1, startedAt: 0 });
  b.addBlockEvent({ kind: 'created', scc: 1, vertices: 1, bytes: 1, timeMs: 1 }); // stays alive
  for (let scc = 2; scc < 8; scc++) {
    b.addBlockEvent({ kind: 'created', scc, vertices: 1, bytes: 1, timeMs: scc });
    b.addBlockEvent({ kind: 'freed', scc, vertices: 1, bytes: 1, timeMs: scc + 0.5 });
  }
  assert.deepEqual(
    b.snapshot().blocks.map((x) => [x.scc, x.freed === null]),
    [
      [1, true],
      [6, false],
      [7, false],
    ],
  );
});

test('the page keeps its samples bounded the same way, in typed columns', () => {
  const columns = new SampleColumns(1024);
  const peaks = new Set([1_234, 55_555, 90_000]);
  for (let i = 0; i < 100_000; i++) {
    const graph = peaks.has(i) ? 1e9 : (i % 50) * 1000;
    columns.push({
      t: i,
      accounted: { graph, subgraphs: 0, traces: 0, cache: 0, evaluation: 0, workspace: 0 },
      rss: graph,
    });
  }
  assert.ok(columns.length <= 1024, `${columns.length} kept`);
  const kept = [];
  for (let i = 0; i < columns.length; i++) if (columns.cat.graph[i] === 1e9) kept.push(columns.t[i]);
  assert.deepEqual(kept, [...peaks]);
  assert.equal(columns.latest()!.t, 99_999, 'the newest sample reads as now');
  assert.equal(columns.t[columns.lowerBound(55_555)], 55_555);
  columns.push({
    t: 5,
    accounted: { graph: 1, subgraphs: 0, traces: 0, cache: 0, evaluation: 0, workspace: 0 },
    rss: 1,
  });
  assert.equal(columns.latest()!.t, 99_999, 'a late, out-of-order sample is dropped');
});
