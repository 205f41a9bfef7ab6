// The Fit tab in the real bundle: the data summary and the default reward family, the
// request it posts for the ticked parameters, live progress on the log-likelihood
// chart, Cancel, the estimates with their 95% intervals (computed here), the observed
// and expected bars in the theme's colours, warnings shown prominently, the table
// view and CSV export, errors, and "Use these values" moving the Moments view's
// parameters (and its evaluation request) to the estimates; and a page reloaded
// mid-fit, connected to the real host-side session, showing the fit still running
// with its steps, cancellable, and a fit that ended while no page was there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StudioBuffer } from '../../extension/host/panel/buffer';
import { PanelSession, STALE_RUN } from '../../extension/host/panel/session';
import type { FitStep } from '../../extension/protocol/engine';
import { formatNumber } from '../../extension/protocol/format';
import type { FitData, FitResult, StudioSnapshot, WebviewMessage } from '../../extension/protocol/webview';
import { cspViolations, openStudio, pixelsOf, type Studio, screenshotPath, useBrowser } from './harness';
import { syntheticDecomposition, syntheticRun, syntheticSession, TWO_LOCUS_MODEL } from './synthetic';

const browser = useBrowser();
type FitRequest = Extract<WebviewMessage, { type: 'fit' }>;

const DATA: FitData = {
  name: 'sample.fs',
  path: 'data/sample.fs',
  modelUri: TWO_LOCUS_MODEL.uri,
  traceKey: syntheticRun(syntheticDecomposition(6)).traceKey,
  spectrum: {
    n: 5,
    folded: false,
    labels: ['pop0'],
    counts: [0, 50, 30, 20, 10, 0],
    mask: [true, false, false, false, false, true],
  },
};

function snapshot(): StudioSnapshot {
  const s = syntheticSession();
  const run = s.run!;
  // A family of the data's length (xi: 4 = n − 1) and one that is not (eta).
  const moments = { ...run.result.moments, 'eta[0]': [1], 'eta[1]': [2] } as Record<string, number[]>;
  for (let k = 0; k < 4; k++) moments[`xi[${k}]`] = [2 / (k + 1)];
  return { ...s, tab: 'fit', run: { ...run, result: { ...run.result, moments } }, fitData: DATA };
}

function result(over: Partial<FitResult> = {}): FitResult {
  return {
    model: 'two_locus',
    estimates: { rec: 0.5 },
    stderr: { rec: 0.1 },
    loglik: -180.25,
    scale: 24.5,
    iterations: 3,
    converged: true,
    expected: [null, 48.5, 31, 19.5, 11, null],
    observed: [null, 50, 30, 20, 10, null],
    params: { coal: 1, rec: 0.5 },
    sites: 110,
    warnings: [],
    steps: [1, 2, 3].map((iteration) => ({ start: 1, iteration, loglik: -200 + 6 * iteration, estimates: { rec: 1 } })),
    timingsMs: { run: 5, optimize: 3, information: 1, total: 9 },
    ...over,
  };
}

async function open(theme: 'dark' | 'light' | 'high-contrast' = 'dark'): Promise<Studio> {
  const studio = await openStudio(browser(), theme, 'fit');
  await studio.send({ type: 'snapshot', snapshot: snapshot() });
  return studio;
}

const fitButton = (s: Studio) => s.page.locator('.fit vscode-button[data-action="fit"]');
const cancelButton = (s: Studio) => s.page.locator('.fit vscode-button[data-action="cancel"]');

async function startFit(studio: Studio, count = 1): Promise<FitRequest> {
  await fitButton(studio).click();
  const sent = (await studio.waitForPosted('fit', count)) as FitRequest[];
  return sent[count - 1];
}

test('controls, the request, live progress, estimates with intervals, bars, table, CSV, Use these values', async () => {
  const studio = await open();
  const page = studio.page;
  assert.equal(
    await page.locator('.fit-summary').innerText(),
    'sample.fs (data/sample.fs): unfolded spectrum of n = 5 samples (pop0), 110 segregating sites in 4 entries; masked: 0, 5.',
  );
  // The family whose length matches the data is chosen; the other says why it does not fit.
  assert.equal(await page.locator('#fit-reward').inputValue(), 'xi');
  assert.deepEqual(await page.locator('#fit-reward option').allInnerTexts(), [
    'eta[0..1] (length 2, the data need 4)',
    'xi[0..3]',
  ]);
  // Start values are the shared parameters' values.
  const startOf = (name: string) =>
    page.locator(`.fit vscode-text-field[data-start="${name}"]`).evaluate((e) => (e as HTMLInputElement).value);
  assert.equal(await startOf('rec'), '1');

  await page.locator('.fit vscode-checkbox[data-fit-param="rec"]').click();
  await page.locator('.fit vscode-text-field[data-start="rec"] input').fill('2');
  const sent = await startFit(studio);
  assert.deepEqual(sent, {
    type: 'fit',
    fitId: sent.fitId,
    sfsReward: 'xi',
    fit: ['rec'],
    start: { rec: 2 },
    params: { coal: 1, rec: 1 },
  });
  assert.equal(await fitButton(studio).getAttribute('disabled'), '');
  assert.equal(await cancelButton(studio).getAttribute('disabled'), null);

  const steps = result().steps;
  for (const step of steps) await studio.send({ type: 'fitProgress', fitId: sent.fitId, step });
  // A step of another fit is not drawn.
  await studio.send({ type: 'fitProgress', fitId: sent.fitId + 100, step: { ...steps[0], loglik: -1 } });
  assert.equal(
    await page.locator('.fit-status').innerText(),
    `Fitting… iteration 3: log-likelihood ${formatNumber(-182)}`,
  );
  assert.equal(await page.locator('.fit-loglik').getAttribute('data-steps'), '3');
  assert.ok((await pixelsOf(studio, '.fit-loglik', '#3794ff')) > 20, 'the log-likelihood line in --vscode-charts-blue');

  await studio.send({ type: 'fitResult', fitId: sent.fitId, result: result() });
  assert.equal(await fitButton(studio).getAttribute('disabled'), null);
  assert.equal(await cancelButton(studio).getAttribute('disabled'), '');
  assert.match(await page.locator('.fit-status').innerText(), /^Converged after 3 iterations: log-likelihood /);
  assert.equal(await page.locator('.fit-warnings').isVisible(), false);
  // The 95% interval, Wald on the log scale: 0.5 · exp(±1.959964 · 0.1 / 0.5).
  const f = Math.exp((1.959963984540054 * 0.1) / 0.5);
  assert.deepEqual(await page.locator('.fit-estimates tbody tr').first().locator('th, td').allInnerTexts(), [
    'rec',
    formatNumber(0.5),
    formatNumber(0.1),
    `${formatNumber(0.5 / f)} – ${formatNumber(0.5 * f)}`,
  ]);
  assert.match(await page.locator('.fit-estimates caption').innerText(), /Wald on the log scale/);
  // Observed and expected bars in the first two series colours, one pair per entry used.
  assert.equal(await page.locator('.fit-spectrum').getAttribute('data-entries'), '4');
  assert.ok((await pixelsOf(studio, '.fit-spectrum', '#3794ff')) > 500, 'observed bars in blue');
  assert.ok((await pixelsOf(studio, '.fit-spectrum', '#d18616')) > 500, 'expected bars in orange');
  assert.deepEqual(await page.locator('.fit-spectrum .u-legend .u-series .u-label').allInnerTexts(), [
    'entry',
    'observed',
    'expected',
  ]);
  await page.screenshot({ path: screenshotPath('fit-dark'), fullPage: true });

  // Table view: the spectrum entry by entry and the steps.
  await page.locator('.fit vscode-button', { hasText: 'Show as table' }).click();
  const rows = page.locator('#fit-tables table').first().locator('tbody tr');
  assert.equal(await rows.count(), 6);
  assert.deepEqual(await rows.nth(1).locator('th, td').allInnerTexts(), ['1', '50', formatNumber(48.5)]);
  assert.deepEqual(await rows.nth(0).locator('th, td').allInnerTexts(), ['0', '—', '—']);

  await page.locator('.fit vscode-button', { hasText: 'Export CSV…' }).click();
  const [csv] = (await studio.waitForPosted('exportCsv')) as Array<Extract<WebviewMessage, { type: 'exportCsv' }>>;
  assert.equal(csv.csv, 'entry,observed,expected\n0,,\n1,50,48.5\n2,30,31\n3,20,19.5\n4,10,11\n5,,\n');
  await studio.send({ type: 'exported', format: 'csv', path: '/tmp/fit.csv' });
  assert.equal(await page.locator('.fit .toolbar .muted').innerText(), 'Saved /tmp/fit.csv');

  // Use these values: the shared parameters become the estimates; Moments re-evaluates there.
  const before = (await studio.posted()).filter((m) => m.type === 'evaluate').length;
  await page.locator('.fit vscode-button[data-action="use"]').click();
  const evaluations = (await studio.waitForPosted('evaluate', before + 1)) as Array<
    Extract<WebviewMessage, { type: 'evaluate' }>
  >;
  assert.deepEqual(evaluations[evaluations.length - 1].params, { coal: 1, rec: 0.5 });
  await page.locator('vscode-panel-tab', { hasText: 'Moments' }).click();
  assert.equal(
    await page.locator('.moments vscode-text-field[data-param="rec"]').evaluate((e) => (e as HTMLInputElement).value),
    '0.5',
  );
  await page.locator('vscode-panel-tab', { hasText: 'Distribution' }).click();
  assert.equal(
    await page
      .locator('.distribution vscode-text-field[data-param="rec"]')
      .evaluate((e) => (e as HTMLInputElement).value),
    '0.5',
  );
  assert.deepEqual(studio.problems(), []);
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
});

test('cancel, refusals, errors from the host, and a non-identifiable parameter shown prominently', async () => {
  const studio = await open('light');
  const page = studio.page;
  // Nothing ticked: refused in the page, nothing posted.
  await fitButton(studio).click();
  assert.match(await page.locator('.fit-error').innerText(), /tick at least one parameter to fit/);
  await page.locator('.fit vscode-checkbox[data-fit-param="coal"]').click();
  await page.locator('.fit vscode-text-field[data-start="coal"] input').fill('-1');
  await fitButton(studio).click();
  assert.match(await page.locator('.fit-error').innerText(), /the start of coal must be a number > 0/);
  assert.equal(await page.locator('.fit vscode-text-field[data-start="coal"]').getAttribute('aria-invalid'), 'true');
  assert.equal((await studio.posted()).filter((m) => m.type === 'fit').length, 0);

  await page.locator('.fit vscode-text-field[data-start="coal"] input').fill('1');
  const first = await startFit(studio);
  assert.equal(await page.locator('.fit-error').isVisible(), false);
  await cancelButton(studio).click();
  const [cancel] = await studio.waitForPosted('fitCancel');
  assert.deepEqual(cancel, { type: 'fitCancel', fitId: first.fitId });
  await studio.send({ type: 'fitResult', fitId: first.fitId, cancelled: true });
  assert.equal(await page.locator('.fit-status').innerText(), 'Fit cancelled.');
  assert.equal(await fitButton(studio).getAttribute('disabled'), null);

  // The host's refusal is shown as the fit's error.
  const second = await startFit(studio, 2);
  // A reply with neither result, error nor cancel fails the schema and is ignored.
  await studio.send({ type: 'fitResult', fitId: second.fitId });
  assert.equal(await fitButton(studio).getAttribute('disabled'), '');
  await studio.send({ type: 'fitResult', fitId: second.fitId, error: 'the model has no parameter coal' });
  assert.equal(await page.locator('.fit-error').innerText(), 'Fit failed: the model has no parameter coal');

  // Two parameters, of which only the ratio counts: infinite errors and a warning in view.
  await page.locator('.fit vscode-checkbox[data-fit-param="rec"]').click();
  const third = await startFit(studio, 3);
  assert.deepEqual(third.fit, ['coal', 'rec']);
  const warning =
    'coal, rec are not identifiable separately from the spectrum: the log-likelihood is flat along a direction that changes them together';
  await studio.send({
    type: 'fitResult',
    fitId: third.fitId,
    result: result({
      estimates: { coal: 2, rec: 0.5 },
      stderr: { coal: 'Infinity', rec: 'Infinity' },
      warnings: [warning],
    }),
  });
  assert.equal(await page.locator('.fit-error').isVisible(), false);
  assert.equal(await page.locator('.fit-warnings').isVisible(), true);
  assert.equal(await page.locator('.fit-warnings li').innerText(), `⚠ ${warning}`);
  assert.deepEqual(await page.locator('.fit-estimates tbody tr').nth(0).locator('td').allInnerTexts(), [
    '2',
    '∞',
    '0 – ∞',
  ]);
  await page.screenshot({ path: screenshotPath('fit-light-warning'), fullPage: true });
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

test('without data the tab says how to get some', async () => {
  const studio = await openStudio(browser(), 'high-contrast', 'fit');
  await studio.send({ type: 'snapshot', snapshot: { ...syntheticSession(), tab: 'fit' } });
  assert.match(await studio.page.locator('.fit .muted').first().innerText(), /Fit Parameters to Data/);
  assert.equal(await studio.page.locator('.fit-controls').isVisible(), false);
  // Data arriving later (the command) shows the controls.
  await studio.send({ type: 'fitData', data: { ...DATA, modelUri: 'file:///elsewhere.phasic' } });
  assert.match(await studio.page.locator('.fit-status').innerText(), /another model/);
  assert.deepEqual(studio.problems(), []);
  await studio.page.close();
});

test('a run not made for the data hides the controls and says why; the fit under way ends with the reason', async () => {
  const studio = await open('dark');
  const page = studio.page;
  const dataRun = snapshot().run!;
  await page.locator('.fit vscode-checkbox[data-fit-param="rec"]').click();
  const asked = await startFit(studio);
  // The same run again (same trace key): the controls stay, the fit goes on.
  await studio.send({ type: 'run', run: { ...dataRun } });
  assert.equal(await page.locator('.fit-controls').isVisible(), true);
  // The model run again with other constants: the fit's constants are not this run's.
  await studio.send({ type: 'run', run: { ...dataRun, result: { ...dataRun.result, traceKey: 'feedbeef00000001' } } });
  assert.equal(await page.locator('.fit-controls').isVisible(), false);
  assert.match(
    await page.locator('.fit-status').innerText(),
    /another run of this model .*other constants or an edited model.*run the fit command again/,
  );
  // The host stops the fit and says why (session.ts); the page shows it.
  await studio.send({ type: 'fitResult', fitId: asked.fitId, error: STALE_RUN });
  assert.equal(await page.locator('.fit-error').innerText(), `Fit failed: ${STALE_RUN}`);
  // The data's run shown again: the controls are back.
  await studio.send({ type: 'run', run: { ...dataRun } });
  assert.equal(await page.locator('.fit-controls').isVisible(), true);
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

test('a page reloaded mid-fit gets the fit back from the host session: running, its steps, Cancel, then an outcome', async () => {
  // The real host-side session between the engine (played here) and real pages.
  const fits: Array<{ step: (s: FitStep) => void; finish: (r: FitResult) => void; signal: AbortSignal }> = [];
  const run = syntheticRun(syntheticDecomposition(6));
  for (let k = 0; k < 4; k++) run.moments[`xi[${k}]`] = [2 / (k + 1)];
  let page: Studio | undefined;
  let delivered = Promise.resolve();
  const session = new PanelSession(
    new StudioBuffer(),
    {
      evaluate: async () => assert.fail('no evaluation'),
      exportSvg: async () => undefined,
      fit: (_request, onStep, signal) =>
        new Promise<FitResult>((resolve, reject) => {
          fits.push({ step: onStep, finish: resolve, signal });
          signal.addEventListener('abort', () => reject(new Error('the fit was cancelled')));
        }),
    },
    (m) => {
      const to = page;
      const json = JSON.parse(JSON.stringify(m));
      delivered = delivered.then(() => to?.send(json));
    },
  );
  session.runResult(TWO_LOCUS_MODEL, run);
  session.showFit({ data: DATA, text: '6 unfolded\n0 50 30 20 10 0\n', overrides: {} });
  const load = async (theme: 'dark' | 'light') => {
    page = await openStudio(browser(), theme, 'fit');
    await session.receive({ type: 'ready' });
    await delivered;
    return page;
  };
  const relay = async (studio: Studio, type: WebviewMessage['type'], count = 1) => {
    const all = await studio.waitForPosted(type, count);
    return session.receive(all[count - 1]);
  };
  const status = (studio: Studio) => studio.page.locator('.fit-status').innerText();
  const steps = result().steps;
  /** Until the session has handed the engine its `n`th fit (the page's message takes a moment to arrive). */
  const started = async (n: number) => {
    while (fits.length < n) await new Promise((r) => setTimeout(r, 10));
    return fits[n - 1];
  };

  const first = await load('dark');
  await first.page.locator('.fit vscode-checkbox[data-fit-param="rec"]').click();
  await first.page.locator('.fit vscode-text-field[data-start="rec"] input').fill('2');
  await fitButton(first).click();
  const fitting = relay(first, 'fit');
  const [asked] = (await first.posted()).filter((m): m is FitRequest => m.type === 'fit');
  (await started(1)).step(steps[0]);
  await delivered;
  assert.equal(await first.page.locator('.fit-loglik').getAttribute('data-steps'), '1');
  // Reloaded: the old page is gone, steps go on without it.
  await first.page.close();
  session.detach();
  page = undefined;
  fits[0].step(steps[1]);
  fits[0].step(steps[2]);

  const second = await load('dark');
  assert.equal(await status(second), `Fitting… iteration 3: log-likelihood ${formatNumber(steps[2].loglik)}`);
  assert.equal(await second.page.locator('.fit-loglik').getAttribute('data-steps'), '3');
  assert.equal(await fitButton(second).getAttribute('disabled'), '');
  assert.equal(await cancelButton(second).getAttribute('disabled'), null);
  // The controls as the fit was asked for.
  assert.equal(
    await second.page
      .locator('.fit vscode-checkbox[data-fit-param="rec"]')
      .evaluate((e) => (e as HTMLInputElement).checked),
    true,
  );
  assert.equal(
    await second.page
      .locator('.fit vscode-text-field[data-start="rec"]')
      .evaluate((e) => (e as HTMLInputElement).value),
    '2',
  );
  assert.equal(await second.page.locator('#fit-reward').inputValue(), 'xi');
  // Still live: the next step is drawn, and Cancel stops this fit.
  fits[0].step({ ...steps[2], iteration: 4, loglik: -180 });
  await delivered;
  assert.equal(await second.page.locator('.fit-loglik').getAttribute('data-steps'), '4');
  await cancelButton(second).click();
  await relay(second, 'fitCancel');
  await fitting;
  await delivered;
  assert.equal(fits[0].signal.aborted, true);
  const [cancel] = (await second.posted()).filter((m) => m.type === 'fitCancel');
  assert.deepEqual(cancel, { type: 'fitCancel', fitId: asked.fitId });
  assert.equal(await status(second), 'Fit cancelled.');

  // A new fit from the reloaded page has an id of its own; the page goes away and the fit ends meanwhile.
  await fitButton(second).click();
  const refit = relay(second, 'fit');
  const [again] = (await second.posted()).filter((m): m is FitRequest => m.type === 'fit');
  assert.ok(again.fitId > asked.fitId, `${again.fitId} after ${asked.fitId}`);
  await started(2);
  await second.page.close();
  session.detach();
  page = undefined;
  for (const s of steps) fits[1].step(s);
  fits[1].finish(result());
  await refit;

  const third = await load('light');
  assert.match(await status(third), /^Converged after 3 iterations: log-likelihood /);
  assert.equal(await third.page.locator('.fit-loglik').getAttribute('data-steps'), '3');
  assert.equal(await third.page.locator('.fit-spectrum').getAttribute('data-entries'), '4');
  assert.deepEqual(
    (await third.page.locator('.fit-estimates tbody tr').first().locator('th, td').allInnerTexts()).slice(0, 3),
    ['rec', formatNumber(0.5), formatNumber(0.1)],
  );
  assert.equal(await fitButton(third).getAttribute('disabled'), null);
  assert.equal(await third.page.locator('.fit vscode-button[data-action="use"]').getAttribute('disabled'), null);
  assert.deepEqual(first.problems(), []);
  assert.deepEqual(second.problems(), []);
  assert.deepEqual(third.problems(), []);
  await third.page.close();
});
