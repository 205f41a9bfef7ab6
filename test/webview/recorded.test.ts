// The panel fed with host messages recorded from a real engine session
// (scripts/record-webview-fixture.mjs: two_locus n = 8 run twice, re-evaluated,
// caches cleared, the distribution of every reward): every view shows what the engine
// reported. The Fit tab likewise with the messages of a real fit of
// examples/two_deme_sfs.{phasic,fs} (scripts/record-fit-fixture.mjs); its screenshot is
// the README's docs/images/studio-fit.png.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { formatBytes, formatFreed, formatNumber } from '../../extension/protocol/format';
import type { HostMessage, StudioSnapshot, WebviewMessage } from '../../extension/protocol/webview';
import { openStudio, screenshotPath, useBrowser } from './harness';

const fixture = JSON.parse(readFileSync('test/fixtures/webview/two_locus-session.json', 'utf8')) as {
  messages: HostMessage[];
};
const snapshot = (fixture.messages[0] as Extract<HostMessage, { type: 'snapshot' }>).snapshot as StudioSnapshot;
const evaluation = fixture.messages[1] as Extract<HostMessage, { type: 'evaluation' }>;
const detail = (fixture.messages[2] as Extract<HostMessage, { type: 'sccDetail' }>).detail!;
const run = snapshot.run!;

const browser = useBrowser();

test('memory: the figures, every block subgraph freed, and the Clear Caches amount', async () => {
  const studio = await openStudio(browser(), 'dark');
  await studio.send(fixture.messages[0]);
  const page = studio.page;
  const last = snapshot.samples[snapshot.samples.length - 1];
  assert.equal(await page.locator('[data-figure="traces"]').innerText(), formatBytes(last.accounted.traces));
  assert.equal(await page.locator('[data-figure="rss"]').innerText(), formatBytes(last.rss));
  assert.ok(snapshot.blocks.length > 400, 'each recorded block of each run has its bar');
  assert.match(
    (await page.locator('canvas.gantt-canvas').getAttribute('aria-label'))!,
    new RegExp(`${snapshot.blocks.length} subgraphs, 0 still alive`),
  );
  await page.getByRole('button', { name: 'Show as table' }).click();
  await page.locator('#memory-tables table').first().waitFor();
  const events = await page.locator('#memory-tables table').nth(2).locator('tbody td').allInnerTexts();
  const freed = snapshot.markers.find((m) => m.kind === 'clear')!.freedBytes!;
  assert.deepEqual(events, ['Run two_locus', 'Done', 'Run two_locus', 'Done', `Clear ${formatFreed(freed)}`]);
  await page.getByRole('button', { name: 'Hide table' }).click();
  await page.screenshot({ path: screenshotPath('real-memory'), fullPage: true });
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

test('SCC: all 486 components drawn with the recorded trace sources', async () => {
  const studio = await openStudio(browser(), 'dark', 'scc');
  await studio.send({ ...fixture.messages[0], snapshot: { ...snapshot, tab: 'scc' } });
  const page = studio.page;
  assert.equal(await page.locator('canvas.scc-canvas').getAttribute('data-drawn'), '486');
  const count = (s: string) => run.decomposition.sccs.filter((c) => c.source === s).length;
  const legend = await page.locator('.scc .legend').innerText();
  assert.match(legend, new RegExp(`Memory cache \\(${count('memory')}\\)`));
  assert.match(legend, new RegExp(`Trivial \\(no trace\\) \\(${count('trivial')}\\)`));
  assert.match(await page.locator('.run-summary').innerText(), /8,407 vertices, .* 486 SCCs/);

  // Select the SCC the fixture has the states of (keyboard: Tab into the table view).
  await page.getByRole('button', { name: 'Show as table' }).click();
  await page.getByRole('button', { name: `Show SCC ${detail.scc}`, exact: true }).click();
  await page.getByRole('button', { name: 'Hide table' }).click();
  const request = (await studio.posted())
    .filter((m): m is Extract<WebviewMessage, { type: 'sccDetail' }> => m.type === 'sccDetail')
    .at(-1)!;
  assert.equal(request.scc, detail.scc);
  await studio.send({ type: 'sccDetail', requestId: request.requestId, detail });
  const pane = page.locator('.scc-detail');
  assert.equal(await pane.locator('canvas.scc-mini').count(), 1);
  assert.equal(await pane.locator('table tbody tr').count(), Math.min(100, detail.states.length));
  const shownCells = await pane.locator('table thead th').count();
  const used = detail.variables.filter((_, j) => detail.states.some((row) => row[j] !== 0)).length;
  assert.equal(shownCells, 1 + used, 'only cells non-zero somewhere in the SCC');
  await page.screenshot({ path: screenshotPath('real-scc'), fullPage: true });
  await page.close();
});

test('moments: the run numbers, then the recorded re-evaluation', async () => {
  const studio = await openStudio(browser(), 'dark', 'moments');
  await studio.send({ ...fixture.messages[0], snapshot: { ...snapshot, tab: 'moments' } });
  const page = studio.page;
  const row = () => page.locator('.moments-table tbody tr', { hasText: 'tmrca' }).first().locator('td').allInnerTexts();
  assert.equal((await row())[0], formatNumber(Number(run.result.moments.tmrca[0])));
  for (const [name, value] of Object.entries(evaluation.result!.params)) {
    await page.locator(`.moments vscode-text-field[data-param="${name}"] input`).fill(String(value));
  }
  // One debounced evaluate for the edits, whenever its timer fires.
  const sent = (await studio.waitForPosted('evaluate')).filter(
    (m): m is Extract<WebviewMessage, { type: 'evaluate' }> => m.type === 'evaluate',
  );
  assert.equal(sent.length, 1, 'the edits made within the debounce send one evaluate');
  assert.deepEqual(sent.at(-1)!.params, evaluation.result!.params);
  await studio.send({ ...evaluation, requestId: sent.at(-1)!.requestId });
  assert.equal((await row())[0], formatNumber(Number(evaluation.result!.moments.tmrca[0])));
  assert.match(await page.locator('.eval-status').innerText(), /Evaluated in .* ms from the cached trace/);
  await page.screenshot({ path: screenshotPath('real-moments'), fullPage: true });
  await page.close();
});

test('distribution: the engine curves of every reward drawn, the quantile table the engine values', async () => {
  const reply = fixture.messages.find((m) => m.type === 'distribution') as Extract<
    HostMessage,
    { type: 'distribution' }
  >;
  const results = reply.results!;
  const studio = await openStudio(browser(), 'dark', 'distribution');
  await studio.send({ ...fixture.messages[0], snapshot: { ...snapshot, tab: 'distribution' } });
  const page = studio.page;
  for (const r of results.slice(1)) await page.locator(`vscode-checkbox[data-reward="${r.reward}"]`).click();
  const sent = (await studio.waitForPosted('distribution')).filter(
    (m): m is Extract<WebviewMessage, { type: 'distribution' }> => m.type === 'distribution',
  );
  const last = sent.at(-1)!;
  assert.deepEqual(
    last.rewards,
    results.map((r) => r.reward),
  );
  assert.deepEqual(last.params, run.result.params);
  assert.equal(last.traceKey, results[0].traceKey);
  await studio.send({ ...reply, requestId: last.requestId });
  assert.equal(await page.locator('.dist-pdf canvas').count(), 1);
  assert.deepEqual(await page.locator('.dist-pdf .u-legend .u-series .u-label').allInnerTexts(), [
    't',
    ...results.map((r) => r.reward),
  ]);
  const rows = page.locator('.quantile-table tbody tr');
  for (const [i, q] of results[0].quantiles.entries()) {
    assert.deepEqual(
      await rows.nth(i).locator('td').allInnerTexts(),
      results.map((r) => formatNumber(r.quantiles[i].value)),
      `${q.p} quantiles`,
    );
  }
  // Its mean and sd are the run's moments, computed by the engine another way.
  const mean = Number(run.result.moments.time[0]);
  const sd = Math.sqrt(Number(run.result.variance.time));
  assert.equal(
    (await page.locator('.quantile-table tbody tr', { hasText: 'Mean ± sd' }).locator('td').allInnerTexts())[0],
    `${formatNumber(mean)} ± ${formatNumber(sd)}`,
  );
  // And the curves agree with it: ∫ (1 − F) dt over the grid is the mean (trapezoids;
  // the grid ends at the 0.999 quantile, so the tail beyond is left out).
  const time = results[0];
  let area = 0;
  for (let i = 1; i < time.times.length; i++)
    area += ((2 - time.cdf[i] - time.cdf[i - 1]) / 2) * (time.times[i] - time.times[i - 1]);
  assert.ok(Math.abs(area - mean) / mean < 0.01, `∫(1 − F) = ${area}, mean ${mean}`);
  assert.match(await page.locator('.dist-status').innerText(), /^Took .* in the engine from the cached trace/);
  // Hover: the legend reads the engine's values at the point under the pointer.
  const over = page.locator('.dist-pdf .u-over');
  const box = (await over.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  const legend = page.locator('.dist-pdf .u-legend .u-series .u-value');
  await page.waitForFunction(
    () => document.querySelector('.dist-pdf .u-legend .u-series .u-value')?.textContent !== '—',
  );
  const [t, density] = await legend.allInnerTexts();
  const i = time.times.findIndex((x) => formatNumber(x) === t);
  assert.ok(i > 0, `the readout's t (${t}) is a point of the engine's grid`);
  assert.equal(density, formatNumber(time.pdf[i]));
  // The survival chart: the engine's P(Y > t) (decision 94) on a log axis, its readout the
  // engine's value at the same grid point (the cursor is shared).
  await page.locator('vscode-checkbox.survival-axis').click();
  await page.locator('.dist-survival[data-y-scale="log"]').waitFor();
  await page.locator('.dist-survival .u-over').scrollIntoViewIfNeeded();
  const sBox = (await page.locator('.dist-survival .u-over').boundingBox())!;
  await page.mouse.move(sBox.x + sBox.width * 0.3, sBox.y + sBox.height / 2);
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll('.dist-survival .u-legend .u-series .u-value'))
      .slice(0, 2)
      .every((e) => e.textContent && e.textContent !== '—'),
  );
  const [st, survival] = await page.locator('.dist-survival .u-legend .u-series .u-value').allInnerTexts();
  const j = time.times.findIndex((x) => formatNumber(x) === st);
  assert.ok(j > 0 && time.survival[j] !== null, `the survival readout's t (${st}) is a grid point`);
  assert.equal(survival, formatNumber(time.survival[j]!));
  // 1 − CDF and the survival agree where 1 − CDF has digits left (the engine computes them apart).
  assert.ok(Math.abs(1 - time.cdf[j] - time.survival[j]!) < 1e-9);
  const sTicks = ((await page.locator('.dist-survival').getAttribute('data-y-ticks')) ?? '').split(' ').map(Number);
  assert.ok(
    sTicks.every((x) => Math.abs(Math.log10(x) - Math.round(Math.log10(x))) < 1e-9),
    `${sTicks}`,
  );
  assert.ok(sTicks[0] <= 1e-2 && sTicks[0] >= 1e-4, `the tail to ~1e-3 (the 0.999 quantile): ${sTicks}`);
  await page.screenshot({ path: screenshotPath('real-distribution'), fullPage: true });
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

const fitFixture = JSON.parse(readFileSync('test/fixtures/webview/two_deme_sfs-fit.json', 'utf8')) as {
  messages: HostMessage[];
};

test('fit: the real fit of examples/two_deme_sfs, from the Fit button to the estimate the README quotes', async () => {
  const [first, ...rest] = fitFixture.messages;
  const fitSnapshot = (first as Extract<HostMessage, { type: 'snapshot' }>).snapshot as StudioSnapshot;
  const steps = rest.filter((m): m is Extract<HostMessage, { type: 'fitProgress' }> => m.type === 'fitProgress');
  const reply = rest.find((m): m is Extract<HostMessage, { type: 'fitResult' }> => m.type === 'fitResult')!;
  const result = reply.result!;
  // The data, read here from the example file itself: entries 1..9 of 0..10 are used.
  const lines = readFileSync('examples/two_deme_sfs.fs', 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));
  const counts = lines[1].trim().split(/\s+/).map(Number);
  const sites = counts.slice(1, 10).reduce((a, b) => a + b, 0);

  const studio = await openStudio(browser(), 'dark', 'fit');
  await studio.send(first);
  const page = studio.page;
  assert.equal(
    await page.locator('.fit-summary').innerText(),
    `two_deme_sfs.fs (examples/two_deme_sfs.fs): unfolded spectrum of n = 10 samples (deme0+deme1), ${formatNumber(sites)} segregating sites in 9 entries; masked: 0, 10.`,
  );
  assert.equal(await page.locator('#fit-reward').inputValue(), 'xi');
  await page.locator('.fit vscode-checkbox[data-fit-param="mig"]').click();
  await page.locator('.fit vscode-button[data-action="fit"]').click();
  const [asked] = (await studio.waitForPosted('fit')) as Array<Extract<WebviewMessage, { type: 'fit' }>>;
  // What the page asks is what the recorder asked the engine: the recording answers this request.
  const defaults = Object.fromEntries(fitSnapshot.run!.model.params.map((p) => [p.name, p.default]));
  assert.deepEqual(asked, {
    type: 'fit',
    fitId: asked.fitId,
    sfsReward: 'xi',
    fit: ['mig'],
    start: { mig: defaults.mig },
    params: defaults,
  });
  for (const m of steps) await studio.send({ ...m, fitId: asked.fitId });
  assert.equal(await page.locator('.fit-loglik').getAttribute('data-steps'), String(steps.length));
  await studio.send({ ...reply, fitId: asked.fitId });

  // The estimate the README's command line gives (mig = 0.31293 ± 0.0232), and the
  // data's sites shared out by the profiled scale.
  const mig = result.estimates.mig;
  const se = result.stderr.mig as number;
  assert.ok(Math.abs(mig - 0.31293) < 5e-6 && Math.abs(se - 0.0232099) < 5e-7, `mig = ${mig} ± ${se}`);
  assert.equal(result.sites, sites);
  const expected = result.expected.filter((e): e is number => e !== null);
  assert.ok(Math.abs(expected.reduce((a, b) => a + b, 0) - sites) < 1e-6 * sites);
  assert.match(
    await page.locator('.fit-status').innerText(),
    new RegExp(`^Converged after ${result.iterations} iterations`),
  );
  const f = Math.exp((1.959963984540054 * se) / mig);
  assert.deepEqual(await page.locator('.fit-estimates tbody tr').first().locator('th, td').allInnerTexts(), [
    'mig',
    formatNumber(mig),
    formatNumber(se),
    `${formatNumber(mig / f)} – ${formatNumber(mig * f)}`,
  ]);
  assert.equal(await page.locator('.fit-spectrum').getAttribute('data-entries'), '9');
  assert.equal(await page.locator('.fit-warnings').isVisible(), false);
  await page.screenshot({ path: screenshotPath('real-fit'), fullPage: true });
  assert.deepEqual(studio.problems(), []);
  await page.close();
});
