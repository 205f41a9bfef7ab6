// The page as VS Code shows it: strict CSP, ready handshake, snapshot replay, and
// the current memory figures as text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cspViolations, openStudio, useBrowser } from './harness';
import { syntheticSession } from './synthetic';

const browser = useBrowser();

test('the page says ready, then shows the engine and the current memory from the snapshot', async () => {
  const studio = await openStudio(browser(), 'dark');
  assert.deepEqual(await studio.posted(), [{ type: 'ready' }]);
  const snapshot = syntheticSession();
  await studio.send({ type: 'snapshot', snapshot });
  const page = studio.page;
  assert.equal(await page.getByRole('heading', { name: 'Phasic Memory' }).isVisible(), true);
  assert.match(await page.locator('.engine').innerText(), /Engine 0\.1\.0 · pid 4243/);
  const last = snapshot.samples[snapshot.samples.length - 1];
  const figure = (key: string) => page.locator(`[data-figure="${key}"]`).innerText();
  assert.equal(await figure('graph'), `${(last.accounted.graph / 1048576).toFixed(1)} MB`);
  assert.match(await figure('subgraphs'), /MB$/);
  assert.notEqual(await figure('rss'), '—');
  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

test('a malformed host message is ignored and later valid messages still apply', async () => {
  const studio = await openStudio(browser(), 'light');
  const warnings: string[] = [];
  studio.page.on('console', (m) => {
    if (m.type() === 'warning') warnings.push(m.text());
  });
  await studio.send({ type: 'engine', engine: { version: 7, pid: 1, startedAt: 0 } });
  await studio.send({ type: 'samples', samples: [{ t: 1, accounted: { graph: -5 }, rss: 1 }] });
  await studio.send({ type: 'nonsense' });
  await studio.send('not even an object');
  assert.equal(await studio.page.locator('.engine').innerText(), 'Engine not started');
  assert.equal(await studio.page.locator('[data-figure="graph"]').innerText(), '—');
  assert.equal(warnings.length, 4);
  assert.match(warnings[0], /engine\.version: expected a string/);
  await studio.send({ type: 'engine', engine: { version: '0.2.0', pid: 9, startedAt: Date.now() } });
  assert.match(await studio.page.locator('.engine').innerText(), /Engine 0\.2\.0 · pid 9/);
  assert.deepEqual(studio.problems(), []);
  await studio.page.close();
});

test('tabs: the visible tab is reported to the host, and the host can switch it', async () => {
  const studio = await openStudio(browser(), 'dark');
  await studio.send({ type: 'snapshot', snapshot: syntheticSession() });
  const page = studio.page;
  await page.getByRole('tab', { name: 'Moments' }).click();
  assert.deepEqual((await studio.posted()).at(-1), { type: 'tab', tab: 'moments' });
  assert.equal(await page.getByRole('heading', { name: 'Moments' }).isVisible(), true);
  // Keyboard: the tab strip is reachable and arrows move between tabs.
  await page.getByRole('tab', { name: 'Moments' }).focus();
  await page.keyboard.press('ArrowLeft');
  assert.deepEqual((await studio.posted()).at(-1), { type: 'tab', tab: 'scc' });
  assert.equal(await page.getByRole('heading', { name: 'SCC decomposition' }).isVisible(), true);
  // The run arrived while the view was hidden (no size): shown, it fits every SCC.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  assert.equal(await page.locator('canvas.scc-canvas').getAttribute('data-drawn'), '60');
  await studio.send({ type: 'showTab', tab: 'memory' });
  assert.equal(await page.getByRole('heading', { name: 'Phasic Memory' }).isVisible(), true);
  assert.equal(await page.getByRole('heading', { name: 'Moments' }).isVisible(), false);
  await page.close();
});
