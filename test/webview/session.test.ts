// The host's conversation with a Studio page: the ready handshake and replay, nothing
// posted to a page that is not ready, batched live samples, and every request from
// the page validated before the host acts on it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StudioBuffer } from '../../extension/host/panel/buffer';
import { type PanelHost, PanelSession } from '../../extension/host/panel/session';
import type { EvaluateResult, MemorySnapshot } from '../../extension/protocol/engine';
import type { HostMessage } from '../../extension/protocol/webview';
import { syntheticDecomposition, syntheticDistribution, syntheticRun, TWO_LOCUS_MODEL } from './synthetic';

const snap = (timeMs: number): MemorySnapshot => ({
  timeMs,
  accountedBytes: { graph: timeMs, subgraphs: 0, traces: 0, cache: 0, evaluation: 0, workspace: 0 },
  peakAccountedBytes: timeMs,
  rssBytes: 1000,
  cache: { entries: 0, bytes: 0, diskFiles: 0, diskBytes: 0 },
});

function setup(host: Partial<PanelHost> = {}) {
  const sent: HostMessage[] = [];
  const logs: string[] = [];
  const calls: unknown[] = [];
  const waiting: Array<() => void> = [];
  /** Resolves once `done()` holds, checked after every message the session posts. */
  const sentUntil = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((wake) => waiting.push(wake));
  };
  const result: EvaluateResult = {
    params: { coal: 2 },
    moments: { time: [0.5] },
    variance: {},
    covariance: {},
    evaluateMs: 0.2,
  };
  const session = new PanelSession(
    new StudioBuffer(),
    {
      evaluate: async (traceKey, params) => {
        calls.push({ traceKey, params });
        return result;
      },
      exportSvg: async () => '/tmp/out.svg',
      log: (m) => logs.push(m),
      ...host,
    },
    (m) => {
      sent.push(JSON.parse(JSON.stringify(m)));
      for (const wake of waiting.splice(0)) wake();
    },
  );
  return { session, sent, sentUntil, logs, calls, result };
}

const types = (sent: HostMessage[]) => sent.map((m) => m.type);

test('nothing is posted before ready; ready replays everything; a detached page gets nothing', async () => {
  const { session, sent } = setup();
  session.engineInfo({ version: '0.1.0', pid: 7, startedAt: 1_000 });
  session.memorySample(snap(10));
  session.blockEvent({ kind: 'created', scc: 2, vertices: 5, bytes: 64, timeMs: 11 });
  session.marker({ kind: 'runStart', timeMs: 9 });
  assert.equal(sent.length, 0);
  await session.receive({ type: 'ready' });
  assert.deepEqual(types(sent), ['snapshot']);
  const s = sent[0].type === 'snapshot' ? sent[0].snapshot : null;
  assert.equal(s?.engine?.pid, 7);
  assert.deepEqual(
    s?.samples.map((x) => x.t),
    [1_010],
  );
  assert.deepEqual(
    s?.blocks.map((b) => [b.scc, b.freed]),
    [[2, null]],
  );
  assert.deepEqual(
    s?.markers.map((m) => m.kind),
    ['runStart'],
  );

  session.blockEvent({ kind: 'freed', scc: 2, vertices: 5, bytes: 64, timeMs: 12 });
  assert.deepEqual(sent.at(-1), {
    type: 'block',
    block: { scc: 2, vertices: 5, bytes: 64, created: 1_011, freed: 1_012 },
  });
  session.detach();
  session.marker({ kind: 'runEnd', timeMs: 13 });
  assert.equal(sent.length, 2, 'a hidden page is sent nothing');
  await session.receive({ type: 'ready' });
  const again = sent.at(-1)!;
  assert.equal(again.type === 'snapshot' && again.snapshot.markers.length, 2, 'and catches up on its next ready');
  session.dispose();
});

test('live samples are batched', async () => {
  const { session, sent, sentUntil } = setup();
  await session.receive({ type: 'ready' });
  for (let i = 0; i < 5; i++) session.memorySample(snap(i));
  assert.deepEqual(types(sent), ['snapshot']);
  // The flush timer's message, whenever it fires (no sleep against the flush interval).
  await sentUntil(() => sent.length > 1);
  assert.deepEqual(types(sent), ['snapshot', 'samples']);
  assert.equal(sent[1].type === 'samples' && sent[1].samples.length, 5);
  // A marker flushes the samples before it, so the page sees them in order.
  session.memorySample(snap(6));
  session.marker({ kind: 'runEnd', timeMs: 7 });
  assert.deepEqual(types(sent).slice(2), ['samples', 'marker']);
  session.dispose();
});

test('evaluate: only the current trace, known parameters, within bounds', async () => {
  const { session, sent, calls, result } = setup();
  await session.receive({ type: 'ready' });
  const d = syntheticDecomposition(12);
  const run = syntheticRun(d);
  session.runResult(TWO_LOCUS_MODEL, run);
  const key = run.traceKey;
  await session.receive({ type: 'evaluate', requestId: 1, traceKey: key, params: { coal: 2 } });
  assert.deepEqual(sent.at(-1), { type: 'evaluation', requestId: 1, result });
  assert.deepEqual(calls, [{ traceKey: key, params: Object.assign(Object.create(null), { coal: 2 }) }]);
  const refused = async (msg: object, error: string) => {
    await session.receive(msg);
    assert.deepEqual(sent.at(-1), { type: 'evaluation', requestId: (msg as { requestId: number }).requestId, error });
  };
  await refused(
    { type: 'evaluate', requestId: 2, traceKey: 'feed', params: {} },
    'That run is no longer current; run the model again.',
  );
  await refused({ type: 'evaluate', requestId: 3, traceKey: key, params: { theta: 1 } }, "Unknown parameter 'theta'.");
  await refused(
    { type: 'evaluate', requestId: 4, traceKey: key, params: { rec: 11 } },
    "Parameter 'rec' must be ≤ 10.",
  );
  await refused(
    { type: 'evaluate', requestId: 5, traceKey: key, params: { coal: -1 } },
    "Parameter 'coal' must be ≥ 0.",
  );
  assert.equal(calls.length, 1, 'the engine was asked only once');
});

test('engine errors come back as the reply, not as an exception', async () => {
  const { session, sent } = setup({ evaluate: async () => Promise.reject(new Error('engine restarted')) });
  await session.receive({ type: 'ready' });
  const run = syntheticRun(syntheticDecomposition(5));
  session.runResult(TWO_LOCUS_MODEL, run);
  await session.receive({ type: 'evaluate', requestId: 9, traceKey: run.traceKey, params: {} });
  assert.deepEqual(sent.at(-1), { type: 'evaluation', requestId: 9, error: 'engine restarted' });
});

test("an SCC's detail is asked of the engine by trace key, at the run's parameters", async () => {
  const asked: unknown[] = [];
  const detail = { scc: 2, variables: ['x'], states: [[1]], edges: [], truncated: false };
  const { session, sent } = setup({
    sccDetail: async (traceKey, scc, params) => {
      asked.push({ traceKey, scc, params });
      return detail;
    },
  });
  await session.receive({ type: 'ready' });
  const run = syntheticRun(syntheticDecomposition(5));
  session.runResult(TWO_LOCUS_MODEL, run);
  await session.receive({ type: 'sccDetail', requestId: 1, traceKey: run.traceKey, scc: 2 });
  assert.deepEqual(sent.at(-1), { type: 'sccDetail', requestId: 1, detail });
  assert.deepEqual(asked, [{ traceKey: run.traceKey, scc: 2, params: run.params }]);
});

test('SCC details, SVG export, and malformed messages', async () => {
  const { session, sent, logs } = setup();
  await session.receive({ type: 'ready' });
  const run = syntheticRun(syntheticDecomposition(5));
  session.runResult(TWO_LOCUS_MODEL, run);
  await session.receive({ type: 'sccDetail', requestId: 1, traceKey: run.traceKey, scc: 2 });
  assert.deepEqual(sent.at(-1), {
    type: 'sccDetail',
    requestId: 1,
    error: 'This engine does not report the states of a component.',
  });
  await session.receive({ type: 'sccDetail', requestId: 2, traceKey: run.traceKey, scc: 5 });
  assert.deepEqual(sent.at(-1), {
    type: 'sccDetail',
    requestId: 2,
    error: 'That component is not part of the current run.',
  });
  await session.receive({ type: 'exportSvg', svg: '<svg xmlns="http://www.w3.org/2000/svg"/>' });
  assert.deepEqual(sent.at(-1), { type: 'exported', path: '/tmp/out.svg' });

  const before = sent.length;
  await session.receive({ type: 'evaluate', requestId: 'x', traceKey: run.traceKey, params: {} });
  await session.receive({ type: 'exportSvg', svg: '<img src=x onerror=alert(1)>' });
  await session.receive({ type: 'shell', command: 'rm -rf /' });
  assert.equal(sent.length, before, 'malformed messages get no answer');
  assert.deepEqual(logs, [
    'Phasic Studio: ignored a malformed message from the panel (requestId: expected an integer ≥ 0)',
    'Phasic Studio: ignored a malformed message from the panel (svg: expected an <svg> document)',
    'Phasic Studio: ignored a malformed message from the panel (type: expected ready | tab | evaluate | sccDetail | exportSvg | distribution | exportPng | exportCsv | fit | fitCancel)',
  ]);
});

test('the tab the page shows is remembered for the next snapshot', async () => {
  const { session, sent } = setup();
  await session.receive({ type: 'tab', tab: 'moments' });
  await session.receive({ type: 'ready' });
  assert.equal(sent[0].type === 'snapshot' && sent[0].snapshot.tab, 'moments');
  session.showTab('scc');
  assert.deepEqual(sent.at(-1), { type: 'showTab', tab: 'scc' });
});

test('distribution: one engine request per chosen reward, all results in one reply, refusals and failures', async () => {
  const asked: Array<{ traceKey: string; reward: string; params: Record<string, number> }> = [];
  const { session, sent } = setup({
    distribution: async (traceKey, reward, params) => {
      asked.push({ traceKey, reward, params: { ...params } });
      if (reward === 'tmrca' && params.coal === 3) throw new Error('trace no longer cached; run again');
      return syntheticDistribution(reward, 1, 0, { ...params });
    },
  });
  await session.receive({ type: 'ready' });
  const run = syntheticRun(syntheticDecomposition(5));
  session.runResult(TWO_LOCUS_MODEL, run);
  const key = run.traceKey;
  await session.receive({
    type: 'distribution',
    requestId: 4,
    traceKey: key,
    rewards: ['time', 'tmrca'],
    params: { coal: 2, rec: 1 },
  });
  assert.deepEqual(asked, [
    { traceKey: key, reward: 'time', params: { coal: 2, rec: 1 } },
    { traceKey: key, reward: 'tmrca', params: { coal: 2, rec: 1 } },
  ]);
  const reply = sent.at(-1)!;
  assert.ok(reply.type === 'distribution' && reply.results);
  assert.equal(reply.requestId, 4);
  assert.deepEqual(
    reply.results.map((r) => r.reward),
    ['time', 'tmrca'],
  );

  // One reward failing fails the reply: the view never draws half of what it asked.
  await session.receive({
    type: 'distribution',
    requestId: 5,
    traceKey: key,
    rewards: ['time', 'tmrca'],
    params: { coal: 3 },
  });
  assert.deepEqual(sent.at(-1), { type: 'distribution', requestId: 5, error: 'trace no longer cached; run again' });

  const refused = async (msg: object, error: string) => {
    await session.receive(msg);
    assert.deepEqual(sent.at(-1), { type: 'distribution', requestId: (msg as { requestId: number }).requestId, error });
  };
  const before = asked.length;
  await refused(
    { type: 'distribution', requestId: 6, traceKey: key, rewards: ['xi'], params: {} },
    "Unknown reward 'xi'; the model has time, tmrca.",
  );
  await refused(
    { type: 'distribution', requestId: 7, traceKey: 'feed', rewards: ['time'], params: {} },
    'That run is no longer current; run the model again.',
  );
  await refused(
    { type: 'distribution', requestId: 8, traceKey: key, rewards: ['time'], params: { rec: 11 } },
    "Parameter 'rec' must be ≤ 10.",
  );
  assert.equal(asked.length, before, 'refused requests never reach the engine');
  // Malformed: no reward, or one twice.
  const count = sent.length;
  await session.receive({ type: 'distribution', requestId: 9, traceKey: key, rewards: [], params: {} });
  await session.receive({ type: 'distribution', requestId: 9, traceKey: key, rewards: ['time', 'time'], params: {} });
  assert.equal(sent.length, count);
});

test('distribution: a newer request cancels the one in flight, whose reply the page then ignores', async () => {
  const signals: AbortSignal[] = [];
  const { session, sent } = setup({
    distribution: (_traceKey, reward, params, signal) => {
      signals.push(signal);
      // The first request only ends when it is cancelled, as the engine's does.
      if (params.coal === 2)
        return new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(new Error('cancelled'))),
        );
      return Promise.resolve(syntheticDistribution(reward, 1, 0, { ...params }));
    },
  });
  await session.receive({ type: 'ready' });
  const run = syntheticRun(syntheticDecomposition(5));
  session.runResult(TWO_LOCUS_MODEL, run);
  const first = session.receive({
    type: 'distribution',
    requestId: 1,
    traceKey: run.traceKey,
    rewards: ['time'],
    params: { coal: 2 },
  });
  assert.equal(signals[0].aborted, false);
  await session.receive({
    type: 'distribution',
    requestId: 2,
    traceKey: run.traceKey,
    rewards: ['time'],
    params: { coal: 3 },
  });
  await first;
  assert.equal(signals[0].aborted, true);
  assert.equal(signals[1].aborted, false);
  // Both are answered (the page drops the older by its id), the cancelled one with an error.
  const replies = sent.filter((m) => m.type === 'distribution');
  assert.deepEqual(
    replies
      .map((m) => [m.requestId, m.type === 'distribution' && m.results ? 'results' : 'error'])
      .sort((a, b) => Number(a[0]) - Number(b[0])),
    [
      [1, 'error'],
      [2, 'results'],
    ],
  );
});

test('distribution without an engine that computes them says so', async () => {
  const { session, sent } = setup();
  await session.receive({ type: 'ready' });
  const run = syntheticRun(syntheticDecomposition(5));
  session.runResult(TWO_LOCUS_MODEL, run);
  await session.receive({ type: 'distribution', requestId: 1, traceKey: run.traceKey, rewards: ['time'], params: {} });
  assert.deepEqual(sent.at(-1), {
    type: 'distribution',
    requestId: 1,
    error: 'This engine does not compute distributions.',
  });
});

test('PNG and CSV export: a real PNG is saved as bytes, anything else refused', async () => {
  const saved: unknown[] = [];
  const { session, sent, logs } = setup({
    exportPng: async (png) => {
      saved.push(Array.from(png.slice(0, 8)));
      return '/tmp/chart.png';
    },
    exportCsv: async (csv) => {
      saved.push(csv);
      return '/tmp/curves.csv';
    },
  });
  await session.receive({ type: 'ready' });
  // A 1×1 PNG, made by hand: signature, IHDR, IDAT, IEND.
  const png =
    'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  await session.receive({ type: 'exportPng', png });
  assert.deepEqual(sent.at(-1), { type: 'exported', format: 'png', path: '/tmp/chart.png' });
  assert.deepEqual(saved[0], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // Base64 of something that is not a PNG: well formed, refused by its content.
  await session.receive({
    type: 'exportPng',
    png: `data:image/png;base64,${Buffer.from('<svg/>').toString('base64')}`,
  });
  assert.deepEqual(sent.at(-1), { type: 'exported', format: 'png', error: 'The exported image is not a PNG.' });
  await session.receive({ type: 'exportCsv', csv: 'reward,t,cdf,density\ntime,0,0,1\n' });
  assert.deepEqual(sent.at(-1), { type: 'exported', format: 'csv', path: '/tmp/curves.csv' });
  assert.equal(saved[1], 'reward,t,cdf,density\ntime,0,0,1\n');
  assert.equal(saved.length, 2);

  const before = sent.length;
  await session.receive({ type: 'exportPng', png: 'data:text/html;base64,PHNjcmlwdD4=' });
  await session.receive({ type: 'exportPng', png: 'javascript:alert(1)' });
  await session.receive({ type: 'exportCsv', csv: '' });
  assert.equal(sent.length, before, 'malformed exports get no answer');
  assert.deepEqual(logs, [
    'Phasic Studio: ignored a malformed message from the panel (png: expected a data:image/png;base64 URL)',
    'Phasic Studio: ignored a malformed message from the panel (png: expected a data:image/png;base64 URL)',
    'Phasic Studio: ignored a malformed message from the panel (csv: expected CSV text)',
  ]);
});
