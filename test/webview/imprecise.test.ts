// Variances and covariances the engine judged imprecise (decisions 110, 112) in the real
// bundle: the Moments view lists the warning the way the Fit view lists its own and marks
// each value it names, at the run's parameters (from the run's warnings) and at edited
// ones (an evaluation's impreciseMoments); the Distribution view marks an sd whose
// variance is named. The messages are in the engine's words (engine/moment_accuracy.cpp).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNumber } from '../../extension/protocol/format';
import type { WebviewMessage } from '../../extension/protocol/webview';
import { openStudio, screenshotPath, useBrowser } from './harness';
import { syntheticDistribution, syntheticSession } from './synthetic';

const browser = useBrowser();

const ROUNDING = '(Var(R) = E[R²] − E[R]²), each rounded by about 2.2e-16 of itself; the value is printed as computed';
const COV_WARNING =
  '1 value keeps fewer than 6 digits: Cov(time, tmrca) = 1.3766765505351941e-14 (about 0.9 digits, ±1.6e-15): it is the difference of two nearly equal moments (Cov(A, B) = E[A·B] − E[A]·E[B]), each rounded by about 2.2e-16 of itself; the value is printed as computed (docs/engine.md, "Variances and covariances")';
// E[time] = 0.8, E[time²] = 0.6400000000000002: Var = E[time²] − 0.8² = 2⁻⁵³ in doubles,
// below ε·(E[time²] + E[time]²) = 2.8e-16, so no digit is left.
const VARIANCE = 0.6400000000000002 - 0.8 * 0.8;
const VAR_WARNING = `1 value keeps fewer than 6 digits: Var(time) = 1.1102230246251565e-16 (no digit left, ±2.8e-16): it is the difference of two nearly equal moments ${ROUNDING} (docs/engine.md, "Variances and covariances")`;

test('a run’s and an evaluation’s imprecise variances and covariances are listed and marked; the sd of one is marked', async () => {
  const studio = await openStudio(browser(), 'dark', 'moments');
  const session = syntheticSession();
  const run = session.run!;
  // The run's own moment warning among its others (one with a site is about the model's text).
  const warnings = [
    { message: 'rule recombine never fires', site: 3 },
    { message: COV_WARNING, site: -1 },
  ];
  await studio.send({
    type: 'snapshot',
    snapshot: {
      ...session,
      tab: 'moments' as const,
      run: { ...run, result: { ...run.result, covariance: { 'time,tmrca': 1.3766765505351941e-14 }, warnings } },
    },
  });
  const page = studio.page;
  const list = page.locator('.moments .moment-warnings');
  assert.equal(await list.isVisible(), true);
  assert.deepEqual(await list.locator('li').allInnerTexts(), [`⚠ ${COV_WARNING}`]);
  assert.equal(await list.getAttribute('role'), 'alert');
  const covariance = page.locator('.moments table', { hasText: 'Covariances' }).locator('td .imprecise');
  assert.equal(await covariance.innerText(), `≈ ${formatNumber(1.3766765505351941e-14)} ⚠`);
  assert.equal(
    await covariance.getAttribute('title'),
    'Cov(time, tmrca) = 1.3766765505351941e-14 (about 0.9 digits, ±1.6e-15)',
  );
  // Only the named value is marked.
  assert.equal(await page.locator('.moments-table .imprecise').count(), 0);

  await page.locator('.moments vscode-text-field[data-param="coal"] input').fill('2');
  const [evaluate] = (await studio.waitForPosted('evaluate')) as Array<Extract<WebviewMessage, { type: 'evaluate' }>>;
  const params = { coal: 2, rec: 1 };
  await studio.send({
    type: 'evaluation',
    requestId: evaluate.requestId,
    result: {
      params,
      moments: { time: [0.8, 0.6400000000000002], tmrca: [0.8, 1.28] },
      variance: { time: VARIANCE, tmrca: 0.64 },
      covariance: {},
      impreciseMoments: VAR_WARNING,
      evaluateMs: 0.1,
    },
  });
  assert.deepEqual(await list.locator('li').allInnerTexts(), [`⚠ ${VAR_WARNING}`]);
  const variance = page.locator('.moments-table tbody tr', { hasText: 'time' }).first().locator('.imprecise');
  assert.equal(await variance.innerText(), `≈ ${formatNumber(VARIANCE)} ⚠`);
  assert.match(
    (await variance.getAttribute('title'))!,
    /^Var\(time\) = 1\.1102230246251565e-16 \(no digit left, ±2\.8e-16\)$/,
  );
  assert.equal(await page.locator('.moments-table .imprecise').count(), 1, 'tmrca keeps its digits');
  await page.screenshot({ path: screenshotPath('moments-imprecise'), fullPage: true });

  // The Distribution view's sd of that variance, at the same parameters.
  await page.getByRole('tab', { name: 'Distribution' }).click();
  const [asked] = (await studio.waitForPosted('distribution')) as Array<
    Extract<WebviewMessage, { type: 'distribution' }>
  >;
  await studio.send({
    type: 'distribution',
    requestId: asked.requestId,
    results: [syntheticDistribution('time', 1.25, 0, params)],
  });
  const meanSd = page.locator('.quantile-table tbody tr', { hasText: 'Mean ± sd' }).locator('td');
  assert.equal(await meanSd.innerText(), `0.8 ± ≈ ${formatNumber(Math.sqrt(VARIANCE))} ⚠`);
  assert.match(
    (await meanSd.locator('.imprecise').getAttribute('title'))!,
    /^sd = √Var\(time\), and Var\(time\) = 1\.1102230246251565e-16 \(no digit left, ±2\.8e-16\): the difference of two nearly equal moments/,
  );
  await page.screenshot({ path: screenshotPath('distribution-imprecise'), fullPage: true });

  // An evaluation with nothing named clears the list and the marks.
  await page.locator('#view-distribution vscode-text-field[data-param="coal"] input').fill('3');
  const again = (await studio.waitForPosted('evaluate', 2)) as Array<Extract<WebviewMessage, { type: 'evaluate' }>>;
  await studio.send({
    type: 'evaluation',
    requestId: again[1].requestId,
    result: {
      params: { coal: 3, rec: 1 },
      moments: { time: [0.5, 0.5] },
      variance: { time: 0.25 },
      covariance: {},
      evaluateMs: 0.1,
    },
  });
  await page.getByRole('tab', { name: 'Moments' }).click();
  assert.equal(await list.isVisible(), false);
  assert.equal(await page.locator('.moments .imprecise').count(), 0);
  assert.deepEqual(studio.problems(), []);
  await page.close();
});
