// The Distribution view in the real bundle: the request it posts for the chosen
// rewards at the shared parameters, the charts uPlot draws for one and two rewards in
// the theme's colours, the quantile table, the log axis, stale replies, errors, the
// table view, CSV and PNG export and the keyboard order. The results are closed forms
// written in synthetic.ts (exponentials, one with an atom at 0).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNumber } from '../../extension/protocol/format';
import type { DistributionResult, WebviewMessage } from '../../extension/protocol/webview';
import { cspViolations, openStudio, pixelsOf, type Studio, screenshotPath, useBrowser } from './harness';
import { syntheticDistribution, syntheticSession } from './synthetic';

const browser = useBrowser();
type DistributionRequest = Extract<WebviewMessage, { type: 'distribution' }>;

async function open(theme: 'dark' | 'light' | 'high-contrast' = 'dark'): Promise<Studio> {
  const studio = await openStudio(browser(), theme, 'distribution');
  await studio.send({ type: 'snapshot', snapshot: { ...syntheticSession(), tab: 'distribution' as const } });
  return studio;
}

async function requests(studio: Studio, count = 1): Promise<DistributionRequest[]> {
  return (await studio.waitForPosted('distribution', count)) as DistributionRequest[];
}

async function quantileCells(studio: Studio, row: string): Promise<string[]> {
  return studio.page.locator('.quantile-table tbody tr', { hasText: row }).first().locator('td').allInnerTexts();
}

test('one reward: the request, both charts in the theme colour, the quantiles and mean ± sd', async () => {
  const studio = await open();
  const page = studio.page;
  const [sent] = await requests(studio);
  assert.deepEqual(sent, {
    type: 'distribution',
    requestId: sent.requestId,
    traceKey: '9c1f2e3d4b5a6978',
    rewards: ['time'],
    params: { coal: 1, rec: 1 },
  });
  assert.equal(await page.locator('.dist-status').innerText(), 'Computing…');
  const time = syntheticDistribution('time', 1 / 1.6);
  await studio.send({ type: 'distribution', requestId: sent.requestId, results: [time] });

  assert.equal(await page.locator('.dist-pdf canvas').count(), 1);
  assert.equal(await page.locator('.dist-cdf canvas').count(), 1);
  assert.ok((await pixelsOf(studio, '.dist-pdf', '#3794ff')) > 100, 'the density is drawn in --vscode-charts-blue');
  assert.ok((await pixelsOf(studio, '.dist-cdf', '#3794ff')) > 100, 'the CDF is drawn in --vscode-charts-blue');
  assert.match(
    (await page.locator('.dist-pdf').getAttribute('aria-label'))!,
    /^Density of time from t = 0 to [\d.]+, linear axis$/,
  );
  // The legend (uPlot's) names the curve.
  assert.deepEqual(await page.locator('.dist-cdf .u-legend .u-series .u-label').allInnerTexts(), ['t', 'time']);

  const headers = await page.locator('.quantile-table thead th').allInnerTexts();
  assert.deepEqual(headers, ['Level', 'time']);
  const levels = await page.locator('.quantile-table tbody th').allInnerTexts();
  assert.deepEqual(levels, ['5%', '25%', '50%', '75%', '95%', '99%', 'Mean ± sd']);
  for (const q of time.quantiles) {
    // The quantile of an exponential with mean 1.6, computed here.
    const expected = -Math.log(1 - q.p) * 1.6;
    assert.ok(Math.abs(q.value - expected) < 1e-12);
    assert.deepEqual(await quantileCells(studio, `${q.p * 100}%`), [formatNumber(q.value)]);
  }
  // From the run's moments (synthetic.ts: E[time] = 1.6, Var = 16/15).
  assert.deepEqual(await quantileCells(studio, 'Mean ± sd'), [
    `${formatNumber(1.6)} ± ${formatNumber(Math.sqrt(16 / 15))}`,
  ]);
  assert.match(
    await page.locator('.dist-status').innerText(),
    /^Took 0\.950 ms in the engine from the cached trace \(not re-recorded; uniformization, time: 57 steps, ε = 1e-10\), drawn in [\d.]+ (ms|s)\.$/,
  );
  assert.equal(await page.locator('.dist-error').isVisible(), false);
  await page.screenshot({ path: screenshotPath('distribution-dark'), fullPage: true });

  // A theme switch redraws in the new theme's colour.
  await studio.setTheme('light');
  const light = await pixelsOf(studio, '.dist-pdf', '#1a85ff');
  assert.ok(light > 100, 'repainted in the light --vscode-charts-blue');
  // (Only antialiased edges of the new line come near the dark theme's blue.)
  assert.ok((await pixelsOf(studio, '.dist-pdf', '#3794ff')) < light / 10);
  assert.deepEqual(studio.problems(), []);
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
});

test('two rewards overlaid, one with an atom at 0 marked and in the table', async () => {
  const studio = await open();
  const page = studio.page;
  const [first] = await requests(studio);
  await studio.send({
    type: 'distribution',
    requestId: first.requestId,
    results: [syntheticDistribution('time', 0.625)],
  });
  await page.locator('vscode-checkbox[data-reward="tmrca"]').click();
  const sent = (await requests(studio, 2))[1];
  assert.deepEqual(sent.rewards, ['time', 'tmrca']);
  const time = syntheticDistribution('time', 0.625);
  const tmrca = syntheticDistribution('tmrca', 2, 0.3);
  await studio.send({ type: 'distribution', requestId: sent.requestId, results: [time, tmrca] });

  assert.deepEqual(await page.locator('.dist-pdf .u-legend .u-series .u-label').allInnerTexts(), [
    't',
    'time',
    'tmrca',
  ]);
  for (const curve of ['pdf', 'cdf'] as const) {
    assert.ok((await pixelsOf(studio, `.dist-${curve}`, '#3794ff')) > 100, `${curve}: time in blue`);
    assert.ok((await pixelsOf(studio, `.dist-${curve}`, '#d18616')) > 100, `${curve}: tmrca in orange`);
  }
  assert.deepEqual(await page.locator('.quantile-table thead th').allInnerTexts(), ['Level', 'time', 'tmrca']);
  // Below the atom the quantile is 0; above it −ln((1 − p)/0.7)/2.
  assert.deepEqual(await quantileCells(studio, '5%'), [formatNumber(-Math.log(0.95) / 0.625), '0']);
  assert.deepEqual(await quantileCells(studio, '50%'), [
    formatNumber(-Math.log(0.5) / 0.625),
    formatNumber(-Math.log(0.5 / 0.7) / 2),
  ]);
  assert.deepEqual(await quantileCells(studio, 'P(Y = 0)'), ['0', '0.3']);
  // The CDF's jump at 0 is marked: a dot of tmrca's colour on the axis at height 0.3.
  const dot = await page.locator('.dist-cdf canvas').evaluate((c) => {
    const canvas = c as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    // uPlot's plotting box: find the left-most column with orange pixels.
    const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let minX = Infinity;
    let atY = -1;
    for (let y = 0; y < canvas.height; y++)
      for (let x = 0; x < canvas.width; x++) {
        const i = (y * canvas.width + x) * 4;
        if (
          Math.abs(d[i] - 0xd1) < 24 &&
          Math.abs(d[i + 1] - 0x86) < 24 &&
          Math.abs(d[i + 2] - 0x16) < 24 &&
          x < minX
        ) {
          minX = x;
          atY = y;
        }
      }
    return { minX, atY, height: canvas.height };
  });
  assert.ok(Number.isFinite(dot.minX), 'the atom marker is drawn');
  await page.screenshot({ path: screenshotPath('distribution-two'), fullPage: true });
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

test('the log switch puts the density on a logarithmic axis', async () => {
  const studio = await open();
  const page = studio.page;
  const [sent] = await requests(studio);
  await studio.send({
    type: 'distribution',
    requestId: sent.requestId,
    results: [syntheticDistribution('time', 0.625)],
  });
  const ticks = async () =>
    ((await page.locator('.dist-pdf').getAttribute('data-y-ticks')) ?? '').split(' ').map(Number);
  const linear = await ticks();
  assert.ok(linear.length >= 3);
  const step = linear[1] - linear[0];
  assert.ok(
    linear.every((t, i) => i === 0 || Math.abs(t - linear[i - 1] - step) < 1e-9 * Math.abs(step)),
    `linear ticks are equally spaced: ${linear}`,
  );
  const switchBox = page.locator('vscode-checkbox.log-axis');
  assert.equal(await switchBox.getAttribute('role'), 'checkbox');
  await switchBox.focus();
  await page.keyboard.press('Space');
  await page.locator('.dist-pdf[data-y-scale="log"]').waitFor();
  const log = await ticks();
  assert.ok(log.length >= 2);
  assert.ok(
    log.every((t) => Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9),
    `log ticks are powers of ten: ${log}`,
  );
  assert.ok(Math.log10(log.at(-1)! / log[0]) >= 2, 'spanning decades (the density falls from 0.625 to 6e-4)');
  assert.match((await page.locator('.dist-pdf').getAttribute('aria-label'))!, /logarithmic axis$/);
  assert.equal(await page.locator('.dist-cdf').getAttribute('data-y-scale'), 'linear', 'the CDF stays linear');
  assert.equal((await studio.posted()).filter((m) => m.type === 'distribution').length, 1, 'redrawn, not recomputed');
  await page.close();
});

test('a parameter edit is shared with Moments and asks again; a stale reply is ignored', async () => {
  const studio = await open();
  const page = studio.page;
  const [first] = await requests(studio);
  await studio.send({
    type: 'distribution',
    requestId: first.requestId,
    results: [syntheticDistribution('time', 0.625)],
  });
  await page.locator('#view-distribution vscode-text-field[data-param="coal"] input').fill('2');
  const second = (await requests(studio, 2))[1];
  assert.deepEqual(second.params, { coal: 2, rec: 1 });
  assert.notEqual(second.requestId, first.requestId);
  // The Moments view's field shows the same value, and it re-evaluated the moments too.
  assert.equal(
    await page
      .locator('#view-moments vscode-text-field[data-param="coal"]')
      .evaluate((e) => (e as HTMLInputElement).value),
    '2',
  );
  const [evaluate] = (await studio.waitForPosted('evaluate')) as Array<Extract<WebviewMessage, { type: 'evaluate' }>>;
  assert.deepEqual(evaluate.params, { coal: 2, rec: 1 });

  const before = await page.locator('.quantile-table').innerText();
  await studio.send({
    type: 'distribution',
    requestId: first.requestId,
    results: [syntheticDistribution('time', 5, 0, { coal: 9, rec: 1 })],
  });
  assert.equal(await page.locator('.dist-status').innerText(), 'Computing…', 'a stale reply changes nothing');
  assert.equal(await page.locator('.quantile-table').innerText(), before);

  const params = { coal: 2, rec: 1 };
  const result = syntheticDistribution('time', 1.25, 0, params);
  await studio.send({ type: 'distribution', requestId: second.requestId, results: [result] });
  assert.deepEqual(await quantileCells(studio, '50%'), [formatNumber(Math.log(2) / 1.25)]);
  assert.match(await page.locator('.quantile-table caption').innerText(), /coal = 2, rec = 1/);
  // Mean ± sd waits for the moments at these parameters, then shows them.
  assert.deepEqual(await quantileCells(studio, 'Mean ± sd'), ['…']);
  await studio.send({
    type: 'evaluation',
    requestId: evaluate.requestId,
    result: { params, moments: { time: [0.8, 1.28] }, variance: { time: 0.64 }, covariance: {}, evaluateMs: 0.1 },
  });
  assert.deepEqual(await quantileCells(studio, 'Mean ± sd'), ['0.8 ± 0.8']);
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

test('an engine error is shown instead of the charts', async () => {
  const studio = await open('high-contrast');
  const page = studio.page;
  const [first] = await requests(studio);
  await studio.send({
    type: 'distribution',
    requestId: first.requestId,
    results: [syntheticDistribution('time', 0.625)],
  });
  assert.equal(await page.locator('.dist-charts').isVisible(), true);
  await page.locator('vscode-checkbox[data-reward="tmrca"]').click();
  const second = (await requests(studio, 2))[1];
  const message = 'absorption is not certain at these parameters (P(absorbed) = 0.75)';
  await studio.send({ type: 'distribution', requestId: second.requestId, error: message });
  assert.equal(await page.locator('.dist-error').innerText(), `Distribution failed: ${message}`);
  assert.equal(await page.locator('.dist-error').getAttribute('role'), 'alert');
  assert.equal(await page.locator('.dist-charts').isVisible(), false);
  assert.equal(await page.locator('.dist-chart canvas').count(), 0, 'no half-drawn chart is left');
  assert.equal(await page.locator('.quantile-table').count(), 0);

  // A reply that is not for the rewards asked is refused the same way.
  await page.locator('vscode-checkbox[data-reward="tmrca"]').click();
  const third = (await requests(studio, 3))[2];
  assert.deepEqual(third.rewards, ['time']);
  await studio.send({ type: 'distribution', requestId: third.requestId, results: [syntheticDistribution('tmrca', 2)] });
  assert.equal(
    await page.locator('.dist-error').innerText(),
    'Distribution failed: the engine answered for tmrca, not time',
  );
  assert.equal(await page.locator('.dist-chart canvas').count(), 0);
  // And a malformed one (a density value per time missing) never reaches the view.
  const warnings: string[] = [];
  page.on('console', (m) => void (m.type() === 'warning' && warnings.push(m.text())));
  const broken = syntheticDistribution('time', 0.625);
  broken.pdf = broken.pdf.slice(1);
  await studio.send({ type: 'distribution', requestId: third.requestId, results: [broken] });
  assert.equal(await page.locator('.dist-chart canvas').count(), 0);
  assert.deepEqual(warnings, [
    'Phasic Studio: ignored a malformed host message (results[0].pdf: expected one value per time (200))',
  ]);
  await page.screenshot({ path: screenshotPath('distribution-error'), fullPage: true });
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

test('table view, CSV and PNG export', async () => {
  const studio = await open('light');
  const page = studio.page;
  await page.locator('vscode-checkbox[data-reward="tmrca"]').click();
  const sent = (await requests(studio, 1)).at(-1)!;
  // The check may have come before or after the first request was posted.
  const results: DistributionResult[] = sent.rewards.map((r) =>
    r === 'time' ? syntheticDistribution('time', 0.625) : syntheticDistribution('tmrca', 2, 0.3),
  );
  await studio.send({ type: 'distribution', requestId: sent.requestId, results });
  if (sent.rewards.length === 1) {
    const again = (await requests(studio, 2))[1];
    await studio.send({
      type: 'distribution',
      requestId: again.requestId,
      results: [syntheticDistribution('time', 0.625), syntheticDistribution('tmrca', 2, 0.3)],
    });
  }
  const [time, tmrca] = [syntheticDistribution('time', 0.625), syntheticDistribution('tmrca', 2, 0.3)];
  await page.getByRole('button', { name: 'Show as table' }).click();
  const tables = page.locator('#distribution-tables table');
  assert.equal(await tables.count(), 2);
  assert.deepEqual(await tables.nth(0).locator('thead th').allInnerTexts(), ['t', 'CDF', 'Survival', 'Density']);
  assert.equal(await tables.nth(1).locator('tbody tr').count(), 200);
  assert.deepEqual(await tables.nth(1).locator('tbody tr').nth(10).locator('th, td').allInnerTexts(), [
    formatNumber(tmrca.times[10]),
    formatNumber(0.3 + 0.7 * (1 - Math.exp(-2 * tmrca.times[10]))),
    formatNumber(0.7 * Math.exp(-2 * tmrca.times[10])),
    formatNumber(1.4 * Math.exp(-2 * tmrca.times[10])),
  ]);

  await page.getByRole('button', { name: 'Export the curves as CSV' }).click();
  const [csv] = (await studio.waitForPosted('exportCsv')) as Array<Extract<WebviewMessage, { type: 'exportCsv' }>>;
  const lines = csv.csv.trimEnd().split('\n');
  // The survival appended last: the first four columns are where and what they were.
  assert.equal(lines[0], 'reward,t,cdf,density,survival');
  assert.equal(lines.length, 1 + 400);
  assert.equal(lines[1], `time,0,${time.cdf[0]},${time.pdf[0]},1`);
  const row = lines[201].split(',');
  assert.equal(row[0], 'tmrca');
  assert.deepEqual(row.slice(1).map(Number), [tmrca.times[0], 0.3, 1.4, 0.7]);
  // tmrca: an atom 0.3 at 0, then Exp(2): S(t) = 0.7·e^(−2t), to its last bit as sent.
  for (const line of lines.slice(202)) {
    const [, t, , , survival] = line.split(',').map(Number);
    assert.ok(Math.abs(survival - 0.7 * Math.exp(-2 * t)) <= 1e-15 * survival, `S(${t}) = ${survival}`);
  }
  await studio.send({ type: 'exported', format: 'csv', path: '/tmp/two_locus-distribution.csv' });
  assert.equal(
    await page.locator('.distribution .toolbar [role="status"]').innerText(),
    'Saved /tmp/two_locus-distribution.csv',
  );

  await page.getByRole('button', { name: 'Export the charts as PNG' }).click();
  const [png] = (await studio.waitForPosted('exportPng')) as Array<Extract<WebviewMessage, { type: 'exportPng' }>>;
  assert.match(png.png, /^data:image\/png;base64,/);
  const size = await page.evaluate(async (url) => {
    const img = new Image();
    img.src = url;
    await img.decode();
    return { w: img.naturalWidth, h: img.naturalHeight };
  }, png.png);
  const canvasHeights = await page
    .locator('.dist-chart canvas')
    .evaluateAll((cs) => cs.map((c) => (c as HTMLCanvasElement).height));
  assert.ok(size.h > canvasHeights[0] + canvasHeights[1], `both charts stacked: ${JSON.stringify(size)}`);
  await studio.send({ type: 'exported', format: 'png', error: 'disk full' });
  assert.equal(await page.locator('.distribution .toolbar [role="status"]').innerText(), 'Export failed: disk full');
  // The SCC view's export status is untouched by these replies.
  assert.equal(await page.locator('.scc .toolbar [role="status"]').innerText(), '');
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

test('keyboard: every control in reading order, charts labelled', async () => {
  const studio = await open();
  const page = studio.page;
  const [sent] = await requests(studio);
  await studio.send({
    type: 'distribution',
    requestId: sent.requestId,
    results: [syntheticDistribution('time', 0.625)],
  });
  await page.getByRole('button', { name: 'Show as table' }).focus();
  const order: string[] = [];
  for (let i = 0; i < 10; i++) {
    order.push(
      await page.evaluate(() => {
        const e = document.activeElement as HTMLElement;
        return (
          e.getAttribute('data-param') ??
          e.getAttribute('data-reward') ??
          e.getAttribute('aria-label') ??
          e.textContent?.trim() ??
          e.tagName
        );
      }),
    );
    await page.keyboard.press('Tab');
  }
  assert.deepEqual(order, [
    'Show as table',
    'coal',
    'rec',
    'Reset to defaults',
    'time',
    'tmrca',
    'Logarithmic density axis',
    'Survival P(Y > t), logarithmic axis',
    'Export the charts as PNG',
    'Export the curves as CSV',
  ]);
  // Space on a reward's checkbox chooses it (a real control).
  await page.locator('vscode-checkbox[data-reward="tmrca"]').focus();
  await page.keyboard.press('Space');
  const again = (await requests(studio, 2))[1];
  assert.deepEqual(again.rewards, ['time', 'tmrca']);
  for (const curve of ['pdf', 'cdf']) {
    assert.equal(await page.locator(`.dist-${curve}`).getAttribute('role'), 'img');
    assert.match((await page.locator(`.dist-${curve}`).getAttribute('aria-label'))!, /of time from t = 0 to/);
  }
  await page.close();
});

test('the survival choice: P(Y > t) on a log axis, below its floor a gap and a note, not 0', async () => {
  const studio = await open();
  const page = studio.page;
  const [sent] = await requests(studio);
  // Exponential with rate 0.625: S(t) = e^(−0.625 t); the last 50 points as if below 1e-289.
  const time = syntheticDistribution('time', 0.625);
  const cut = 150;
  time.survival = time.survival.map((s, i) => (i >= cut ? null : s));
  await studio.send({ type: 'distribution', requestId: sent.requestId, results: [time] });
  assert.equal(await page.locator('.dist-survival canvas').count(), 0, 'off until chosen');
  await page.locator('vscode-checkbox.survival-axis').click();
  await page.locator('.dist-survival[data-y-scale="log"]').waitFor();
  assert.equal(await page.locator('.dist-survival canvas').count(), 1);
  assert.match(
    (await page.locator('.dist-survival').getAttribute('aria-label'))!,
    /^Survival P\(Y > t\) of time .*logarithmic axis$/,
  );
  const ticks = ((await page.locator('.dist-survival').getAttribute('data-y-ticks')) ?? '').split(' ').map(Number);
  assert.ok(
    ticks.every((t) => Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9),
    `powers of ten: ${ticks}`,
  );
  // The drawn values span e^(−0.625 t) down to t = times[149] (≈ 5.7e-3): the lowest tick is
  // within a decade of it, not at 1e-289 (a floor marker) or below (a 0).
  const lowest = Math.exp(-0.625 * time.times[cut - 1]);
  assert.ok(ticks[0] <= lowest * 10 && ticks[0] > lowest / 100, `axis ends near ${lowest}: ${ticks}`);
  assert.ok((await pixelsOf(studio, '.dist-survival', '#3794ff')) > 100, 'drawn in the theme colour');
  // Hover past the floor: the readout says below the floor, not 0 and not "—".
  const over = page.locator('.dist-survival .u-over');
  const box = (await over.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.97, box.y + box.height / 2);
  await page.waitForFunction(() =>
    document.querySelectorAll('.dist-survival .u-legend .u-series .u-value')[1]?.textContent?.startsWith('<'),
  );
  assert.deepEqual((await page.locator('.dist-survival .u-legend .u-series .u-value').allInnerTexts())[1], '< 1e-289');
  // The table: the survival with its figures, and the floor where it is null.
  await page.getByRole('button', { name: 'Show as table' }).click();
  const table = page.locator('#distribution-tables table').first();
  assert.deepEqual(await table.locator('thead th').allInnerTexts(), ['t', 'CDF', 'Survival', 'Density']);
  assert.equal(
    (await table.locator('tbody tr').nth(10).locator('td').allInnerTexts())[1],
    formatNumber(Math.exp(-0.625 * time.times[10])),
  );
  assert.equal((await table.locator('tbody tr').nth(cut).locator('td').allInnerTexts())[1], '< 1e-289');
  // The CSV: the survival last, its cell empty where it is null (CSV's missing value, as
  // --json's null), never 0 nor text; the other columns of those rows as they were.
  await page.getByRole('button', { name: 'Export the curves as CSV' }).click();
  const [csv] = (await studio.waitForPosted('exportCsv')) as Array<Extract<WebviewMessage, { type: 'exportCsv' }>>;
  const lines = csv.csv.trimEnd().split('\n');
  assert.equal(lines[0], 'reward,t,cdf,density,survival');
  assert.equal(lines.length, 1 + 200);
  lines.slice(1).forEach((line, i) => {
    const cells = line.split(',');
    assert.equal(cells.length, 5, line);
    const t = Number(cells[1]);
    assert.equal(t, time.times[i]);
    assert.ok(Math.abs(Number(cells[3]) - 0.625 * Math.exp(-0.625 * t)) <= 1e-15, `density(${t})`);
    if (i >= cut) assert.equal(cells[4], '', `no survival at t = ${t}`);
    else assert.ok(Math.abs(Number(cells[4]) - Math.exp(-0.625 * t)) <= 1e-15 * Math.exp(-0.625 * t), line);
  });
  // Unchecked, the chart goes; the density and CDF are untouched.
  await page.locator('vscode-checkbox.survival-axis').click();
  assert.equal(await page.locator('.dist-survival canvas').count(), 0);
  assert.equal(await page.locator('.dist-pdf canvas').count(), 1);
  assert.deepEqual(studio.problems(), []);
  await page.close();
});
