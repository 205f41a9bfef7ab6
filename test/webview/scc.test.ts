// The SCC decomposition view: nodes drawn at the host's layout, colours by trace
// source, hover and click, the detail request, SVG export, table view, and a
// 2,000-component graph without a freeze.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { layoutCondensation } from '../../extension/host/panel/layout';
import type { PanelRun } from '../../extension/protocol/webview';
import { launch, openStudio, screenshotPath, type ThemeName } from './harness';
import { TWO_LOCUS_MODEL, syntheticDecomposition, syntheticRun, syntheticSession } from './synthetic';

let browser: Browser;
before(async () => {
  browser = await launch();
  mkdirSync('test-results', { recursive: true });
});
after(async () => {
  await browser.close();
});

function runOf(count: number): PanelRun {
  const d = syntheticDecomposition(count);
  const { decomposition, ...result } = syntheticRun(d);
  return { model: TWO_LOCUS_MODEL, result, decomposition, layout: layoutCondensation(decomposition) };
}

for (const theme of ['dark', 'light', 'high-contrast'] as ThemeName[]) {
  test(`SCC view screenshot, ${theme} theme`, async () => {
    const studio = await openStudio(browser, theme, 'scc');
    await studio.send({ type: 'snapshot', snapshot: { ...syntheticSession(), tab: 'scc' } });
    await studio.page.screenshot({ path: screenshotPath(`scc-${theme}`), fullPage: true });
    assert.deepEqual(studio.problems(), []);
    await studio.page.close();
  });
}
