// The host's side of the Fit tab (PanelSession): the data it replays after `ready`,
// a fit relayed to the engine with its steps fanned out to the page, Cancel and a
// newer fit aborting the one under way, and every bad request refused before the
// engine is asked (a browser page is untrusted input).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StudioBuffer } from '../../extension/host/panel/buffer';
import {
  type FitRequest,
  type FitSource,
  type PanelHost,
  PanelSession,
  STALE_RUN,
} from '../../extension/host/panel/session';
import type { FitResult, FitStep } from '../../extension/protocol/engine';
import { type HostMessage, MAX_ERROR_CHARS, parseHostMessage } from '../../extension/protocol/webview';
import { syntheticDecomposition, syntheticRun, TWO_LOCUS_MODEL } from './synthetic';

const SOURCE: FitSource = {
  data: {
    name: 'sample.fs',
    path: 'sample.fs',
    modelUri: TWO_LOCUS_MODEL.uri,
    // The synthetic run's: the data were chosen with that run.
    traceKey: syntheticRun(syntheticDecomposition(6)).traceKey,
    spectrum: { n: 3, folded: false, labels: [], counts: [0, 7, 3, 0], mask: [true, false, false, true] },
  },
  text: '4 unfolded\n0 7 3 0\n1 0 0 1\n',
  overrides: { n: 3 },
};

const RESULT: FitResult = {
  model: 'two_locus',
  estimates: { rec: 0.5 },
  stderr: { rec: 'Infinity' },
  loglik: -3.5,
  scale: 2,
  iterations: 1,
  converged: true,
  expected: [null, 7, 3, null],
  observed: [null, 7, 3, null],
  params: { coal: 1, rec: 0.5 },
  sites: 10,
  warnings: ['rec is not identifiable'],
  steps: [],
  timingsMs: { run: 1, optimize: 1, information: 1, total: 3 },
};

const step = (iteration: number): FitStep => ({ start: 1, iteration, loglik: -10 + iteration, estimates: { rec: 1 } });

function setup(fit?: PanelHost['fit']) {
  const sent: HostMessage[] = [];
  const logs: string[] = [];
  const waiting: Array<() => void> = [];
  const sentUntil = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((wake) => waiting.push(wake));
  };
  const buffer = new StudioBuffer();
  const run = syntheticRun(syntheticDecomposition(6));
  run.moments = { ...run.moments, 'xi[0]': [1], 'xi[1]': [0.5] };
  const session = new PanelSession(
    buffer,
    {
      evaluate: async () => assert.fail('no evaluation'),
      exportSvg: async () => undefined,
      log: (m) => logs.push(m),
      fit,
    },
    (m) => {
      // What the page receives is JSON, and the page checks it with the schema.
      const copy = JSON.parse(JSON.stringify(m));
      const parsed = parseHostMessage(copy);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
      sent.push(copy);
      for (const wake of waiting.splice(0)) wake();
    },
  );
  session.runResult(TWO_LOCUS_MODEL, run);
  return { session, sent, sentUntil, logs, run };
}

const fitMessage = (over: Record<string, unknown> = {}) => ({
  type: 'fit',
  fitId: 5,
  sfsReward: 'xi',
  fit: ['rec'],
  start: { rec: 2 },
  params: { coal: 1, rec: 1 },
  ...over,
});

test('the data are replayed after ready on the Fit tab; a fit is relayed with its steps fanned out', async () => {
  const requests: FitRequest[] = [];
  const { session, sent } = setup(async (request, onStep) => {
    requests.push(request);
    onStep(step(1));
    onStep(step(2));
    return RESULT;
  });
  session.showFit(SOURCE);
  assert.equal(sent.length, 0, 'nothing before ready');
  await session.receive({ type: 'ready' });
  const snapshot = sent[0].type === 'snapshot' ? sent[0].snapshot : null;
  assert.equal(snapshot?.tab, 'fit');
  assert.deepEqual(snapshot?.fitData, SOURCE.data);

  await session.receive(fitMessage());
  // The engine gets the file's text and the constants the command asked for; the page never held them.
  // (Names arrive in prototype-less records: compare as JSON.)
  assert.deepEqual(JSON.parse(JSON.stringify(requests)), [
    {
      uri: TWO_LOCUS_MODEL.uri,
      overrides: { n: 3 },
      data: SOURCE.text,
      sfsReward: 'xi',
      fit: ['rec'],
      start: { rec: 2 },
      params: { coal: 1, rec: 1 },
    },
  ]);
  assert.deepEqual(sent.slice(1), [
    { type: 'fitProgress', fitId: 5, step: step(1) },
    { type: 'fitProgress', fitId: 5, step: step(2) },
    { type: 'fitResult', fitId: 5, result: RESULT },
  ]);

  // New data while the page is open: posted, and the tab shown.
  session.showFit({ ...SOURCE, data: { ...SOURCE.data, name: 'other.fs' } });
  assert.deepEqual(
    sent.slice(-2).map((m) => m.type),
    ['fitData', 'showTab'],
  );
});

test('Cancel aborts the fit under way (not another), and a newer fit aborts the older', async () => {
  const signals: AbortSignal[] = [];
  const { session, sent, sentUntil } = setup(
    (_request, onStep, signal) =>
      new Promise<FitResult>((_resolve, reject) => {
        signals.push(signal);
        onStep(step(1));
        signal.addEventListener('abort', () => reject(new Error('the fit was cancelled')));
      }),
  );
  session.showFit(SOURCE);
  await session.receive({ type: 'ready' });
  const first = session.receive(fitMessage({ fitId: 5 }));
  await session.receive({ type: 'fitCancel', fitId: 4 });
  assert.equal(signals[0].aborted, false);
  await session.receive({ type: 'fitCancel', fitId: 5 });
  await first;
  assert.equal(signals[0].aborted, true);
  assert.deepEqual(sent.slice(-1), [{ type: 'fitResult', fitId: 5, cancelled: true }]);

  const older = session.receive(fitMessage({ fitId: 6 }));
  const newer = session.receive(fitMessage({ fitId: 7 }));
  await older;
  assert.equal(signals[1].aborted, true);
  assert.equal(signals[2].aborted, false);
  assert.ok(sent.some((m) => m.type === 'fitResult' && m.fitId === 6 && m.cancelled));
  await session.receive({ type: 'fitCancel', fitId: 7 });
  await newer;
  await sentUntil(() => sent.some((m) => m.type === 'fitResult' && m.fitId === 7));
});

test('bad requests are refused with a reason before the engine is asked; engine errors are relayed', async () => {
  let calls = 0;
  let failWith: string | undefined;
  const { session, sent, logs } = setup(async () => {
    calls++;
    if (failWith) throw new Error(failWith);
    return RESULT;
  });
  await session.receive({ type: 'ready' });
  const reply = async (m: unknown) => {
    const before = sent.length;
    await session.receive(m);
    const r = sent.slice(before).find((x) => x.type === 'fitResult');
    return r?.type === 'fitResult' ? r.error : undefined;
  };
  assert.match((await reply(fitMessage()))!, /Choose a data file first/);
  session.showFit(SOURCE);
  assert.equal(await reply(fitMessage({ fit: ['theta'], start: {} })), "Unknown parameter 'theta'.");
  assert.match((await reply(fitMessage({ start: { rec: 0 } })))!, /start value of 'rec' must be > 0/);
  assert.match((await reply(fitMessage({ start: { coal: 1 } })))!, /'coal', which is not fitted/);
  assert.equal(await reply(fitMessage({ params: { coal: 1, rec: 11 } })), "Parameter 'rec' must be ≤ 10.");
  assert.equal(await reply(fitMessage({ sfsReward: 'eta' })), "The model has no reward family 'eta'.");
  // Schema refusals: logged and dropped, no reply.
  for (const bad of [fitMessage({ fit: [] }), fitMessage({ fit: ['rec', 'rec'] }), fitMessage({ start: { rec: 'x' } })])
    assert.equal(await reply(bad), undefined);
  assert.equal(logs.length, 3);
  assert.match(logs[0], /fit/);
  assert.equal(calls, 0);

  // Data chosen for another model than the panel shows.
  session.showFit({ ...SOURCE, data: { ...SOURCE.data, modelUri: 'file:///other.phasic' } });
  assert.match((await reply(fitMessage()))!, /no longer shows the model/);
  assert.equal(calls, 0);

  session.showFit(SOURCE);
  failWith = 'the data: line 2: a count is negative';
  assert.equal(await reply(fitMessage()), 'the data: line 2: a count is negative');
  assert.equal(calls, 1);
});

test('a page that goes away mid-fit gets the fit back on ready: running with its steps, then its result', async () => {
  let finish: (r: FitResult) => void = () => undefined;
  let stepTo: (s: FitStep) => void = () => undefined;
  const { session, sent } = setup(
    (_request, onStep) =>
      new Promise<FitResult>((resolve) => {
        stepTo = onStep;
        finish = resolve;
      }),
  );
  session.showFit(SOURCE);
  await session.receive({ type: 'ready' });
  const fitting = session.receive(fitMessage({ fitId: 9 }));
  stepTo(step(1));
  // The page is reloaded (or hidden): nothing reaches it, the session keeps counting.
  session.detach();
  stepTo(step(2));
  stepTo(step(3));
  const whileAway = sent.length;
  await session.receive({ type: 'ready' });
  const snapshotAt = (i: number) => {
    const m = sent[i];
    assert.equal(m.type, 'snapshot');
    return m.type === 'snapshot' ? m.snapshot : assert.fail();
  };
  const running = snapshotAt(whileAway).fit;
  assert.deepEqual(JSON.parse(JSON.stringify(running)), {
    fitId: 9,
    request: { sfsReward: 'xi', fit: ['rec'], start: { rec: 2 }, params: { coal: 1, rec: 1 } },
    status: 'running',
    steps: [step(1), step(2), step(3)],
  });
  assert.deepEqual(snapshotAt(whileAway).fitData, SOURCE.data);
  // Live again: the next step and the result are posted as usual.
  stepTo(step(4));
  finish({ ...RESULT, steps: [step(1), step(2), step(3), step(4)] });
  await fitting;
  assert.deepEqual(
    sent.slice(whileAway + 1).map((m) => m.type),
    ['fitProgress', 'fitResult'],
  );
  // The steps the snapshot carried are a copy: the running fit's later step did not change it.
  assert.equal(running?.steps.length, 3);

  // Away when it ends: the next ready carries the outcome.
  session.detach();
  await session.receive({ type: 'ready' });
  const ended = snapshotAt(sent.length - 1).fit;
  assert.equal(ended?.status, 'done');
  assert.equal(ended?.result?.estimates.rec, RESULT.estimates.rec);
  assert.equal(ended?.steps.length, 4);
});

test('a fit that ends while the page is away is replayed as ended: cancelled, failed; new data drop it', async () => {
  let fail: ((e: Error) => void) | undefined;
  const signals: AbortSignal[] = [];
  const { session, sent } = setup(
    (_request, onStep, signal) =>
      new Promise<FitResult>((_resolve, reject) => {
        signals.push(signal);
        onStep(step(1));
        fail = reject;
        signal.addEventListener('abort', () => reject(new Error('the fit was cancelled')));
      }),
  );
  const lastSnapshot = () => {
    const m = sent.filter((x) => x.type === 'snapshot').at(-1);
    return m?.type === 'snapshot' ? m.snapshot : assert.fail('no snapshot');
  };
  session.showFit(SOURCE);
  await session.receive({ type: 'ready' });
  const cancelled = session.receive(fitMessage({ fitId: 11 }));
  await session.receive({ type: 'fitCancel', fitId: 11 });
  await cancelled;
  session.detach();
  await session.receive({ type: 'ready' });
  assert.equal(lastSnapshot().fit?.status, 'cancelled');
  assert.deepEqual(lastSnapshot().fit?.steps, [step(1)]);

  const failing = session.receive(fitMessage({ fitId: 12 }));
  session.detach();
  // However long the engine's message, the snapshot stays one the page accepts (the test's send checks).
  fail?.(new Error(`the engine stopped: ${'x'.repeat(10_000)}`));
  await failing;
  await session.receive({ type: 'ready' });
  assert.equal(lastSnapshot().fit?.status, 'failed');
  assert.match(lastSnapshot().fit?.error ?? '', /^the engine stopped: x+…$/);
  assert.equal(lastSnapshot().fit?.error?.length, MAX_ERROR_CHARS);

  // A refused request does not replace the fit kept.
  await session.receive(fitMessage({ fitId: 13, sfsReward: 'eta' }));
  session.detach();
  await session.receive({ type: 'ready' });
  assert.equal(lastSnapshot().fit?.fitId, 12);

  // New data: the fit under way is cancelled and nothing of it is replayed.
  const superseded = session.receive(fitMessage({ fitId: 14 }));
  session.showFit({ ...SOURCE, data: { ...SOURCE.data, name: 'other.fs' } });
  await superseded;
  assert.equal(signals.at(-1)?.aborted, true);
  session.detach();
  await session.receive({ type: 'ready' });
  assert.equal(lastSnapshot().fit, null);
  assert.equal(lastSnapshot().fitData?.name, 'other.fs');
});

test('a run not made for the data stops the fit under way as failed, with why, and refuses a new one; the same run keeps it', async () => {
  const fits: Array<{ finish: (r: FitResult) => void; signal: AbortSignal }> = [];
  // The engine's fit here ignores the abort and ends with a result: that result must not reach the page.
  const { session, sent, run } = setup(
    (_request, onStep, signal) =>
      new Promise<FitResult>((finish) => {
        fits.push({ finish, signal });
        onStep(step(1));
      }),
  );
  const results = () => sent.filter((m) => m.type === 'fitResult');
  session.showFit(SOURCE);
  await session.receive({ type: 'ready' });

  // The same run again (the same trace key: same model text, same constants) keeps the fit.
  const kept = session.receive(fitMessage({ fitId: 21 }));
  session.runResult(TWO_LOCUS_MODEL, { ...run });
  assert.equal(fits[0].signal.aborted, false);
  fits[0].finish(RESULT);
  await kept;
  assert.deepEqual(results(), [{ type: 'fitResult', fitId: 21, result: RESULT }]);

  // The model run again with other constants (or edited): another trace key.
  const stale = session.receive(fitMessage({ fitId: 22 }));
  session.runResult(TWO_LOCUS_MODEL, { ...run, traceKey: 'feedbeef00000001' });
  assert.equal(fits[1].signal.aborted, true);
  fits[1].finish(RESULT);
  await stale;
  assert.deepEqual(results().slice(1), [{ type: 'fitResult', fitId: 22, error: STALE_RUN }]);
  assert.match(STALE_RUN, /another run of the model .*other constants or an edited model.*run the fit command again/);
  // A page loaded now is told the same.
  session.detach();
  await session.receive({ type: 'ready' });
  const last = sent.at(-1);
  const replayed = last?.type === 'snapshot' ? last.snapshot.fit : assert.fail('no snapshot');
  assert.deepEqual([replayed?.status, replayed?.error], ['failed', STALE_RUN]);

  // A fit asked for now would use the old constants while the panel shows the new run: refused.
  await session.receive(fitMessage({ fitId: 23 }));
  assert.deepEqual(results().at(-1), { type: 'fitResult', fitId: 23, error: STALE_RUN });
  assert.equal(fits.length, 2);

  // The data's run shown again: fits are asked for again.
  session.runResult(TWO_LOCUS_MODEL, { ...run });
  const again = session.receive(fitMessage({ fitId: 24 }));
  assert.equal(fits.length, 3);
  fits[2].finish(RESULT);
  await again;
  assert.deepEqual(results().at(-1), { type: 'fitResult', fitId: 24, result: RESULT });
});
