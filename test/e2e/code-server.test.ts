// End to end in a real VS Code (code-server 4.96 = VS Code 1.96) driven by Chromium:
// the extension installed from this checkout activates on a .phasic file, passes the
// extension-host suite (test/e2e/suite), and "Phasic: Show Memory Panel" from the
// command palette shows the engine's version and its accounted memory in the webview,
// after a run the Distribution tab draws the real engine's distribution, and the
// fit command fits the example spectrum in the engine.
// Screenshots: test-results/memory-panel.png, test-results/distribution-panel.png.
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  openFile,
  repoRoot,
  runCommand,
  screenshot,
  startWorkbench,
  suiteResult,
  type Workbench,
  webviewFrame,
} from './workbench';

// The title createWebviewPanel gives the Studio panel (extension/host/panel/studioPanel.ts).
const STUDIO_TITLE = 'Phasic Studio';

let workbench: Workbench;

function engineVersion(): string {
  // The same binary the engine process loads: its version is what the panel must show.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(join(repoRoot, 'native', 'build', 'Release', 'phasic_engine.node')) as { version(): string };
  return addon.version();
}

async function explainFailure<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (workbench) {
      await screenshot(workbench.page, 'failure-code-server').catch(() => undefined);
      console.error(workbench.diagnostics());
    }
    throw error;
  }
}

before(async () => {
  workbench = await startWorkbench({ name: 'memory-panel', runSuite: true });
});

after(async () => {
  await workbench?.close();
});

test('opening kingman.phasic activates the extension and the extension-host suite passes', () =>
  explainFailure(async () => {
    await openFile(workbench.page, 'kingman.phasic');
    const summary = await suiteResult(workbench);
    const report = summary.failures.map((f) => `${f.title}\n${f.error}`).join('\n\n');
    assert.equal(summary.failed, 0, `extension-host suite failures:\n${report}`);
    assert.ok(summary.passed >= 5, `the extension-host suite ran only ${summary.passed} tests`);
  }));

test('"Phasic: Show Memory Panel" shows the engine version and accounted memory', () =>
  explainFailure(async () => {
    const { page } = workbench;
    await runCommand(page, 'Phasic: Show Memory Panel');
    const frame = await webviewFrame(page, STUDIO_TITLE);
    const version = engineVersion();
    // The page fills in as the engine answers (its version, then a memory sample about
    // every second); wait for the figures, not a delay. The figures are the memory
    // view's `[data-figure]` cells (webview/memory/summary.ts), "—" until a sample.
    const figure = /^\d+(\.\d+)?\s?(B|KiB|MiB|GiB|kB|KB|MB|GB)$/;
    const shown = await frame
      .waitForFunction(
        ([v, f]) => {
          const cell = (key: string) => document.querySelector(`[data-figure="${key}"]`)?.textContent?.trim() ?? '';
          return (
            document.body.innerText.includes(v) && new RegExp(f).test(cell('total')) && new RegExp(f).test(cell('rss'))
          );
        },
        [version, figure.source] as const,
        { timeout: 30_000 },
      )
      .then(
        () => true,
        () => false,
      );
    const text = await frame.evaluate(() => document.body.innerText);
    assert.ok(shown, `the panel does not show engine ${version}, accounted and resident memory within 30 s:\n${text}`);
    const file = await screenshot(page, 'memory-panel');
    console.log(`screenshot: ${file}`);
  }));

/**
 * The median of kingman.phasic's time to absorption (n = 4, theta = 1): the sum of
 * exponentials with rates 6, 3 and 1, whose CDF is 1 − Σᵢ Πⱼ≠ᵢ λⱼ/(λⱼ − λᵢ) e^(−λᵢ t);
 * by bisection here, independently of the engine.
 */
function kingmanMedian(): number {
  const rates = [6, 3, 1];
  const cdf = (t: number) =>
    1 -
    rates.reduce(
      (s, li, i) => s + rates.reduce((p, lj, j) => (j === i ? p : (p * lj) / (lj - li)), 1) * Math.exp(-li * t),
      0,
    );
  let lo = 0;
  let hi = 50;
  for (let k = 0; k < 200; k++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) < 0.5) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

test("after a run the Distribution tab draws the engine's density and CDF", () =>
  explainFailure(async () => {
    const { page } = workbench;
    await openFile(page, 'kingman.phasic');
    await runCommand(page, 'Phasic: Run Hierarchical Trace');
    // The command offers the model's constants to override (n = 4): keep them.
    const constants = page.locator('.quick-input-widget', { hasText: 'constants for this run' });
    await constants.waitFor({ timeout: 20_000 });
    await page.keyboard.press('Enter');
    await constants.waitFor({ state: 'hidden', timeout: 10_000 });
    const frame = await webviewFrame(page, STUDIO_TITLE);
    // The run brings the panel up on its SCC tab; the run's moments are in the page once the SCC summary is.
    await frame.locator('.run-summary', { hasText: 'kingman' }).waitFor({ timeout: 60_000 });
    await frame.locator('#tab-distribution').click();
    await frame.locator('.dist-pdf canvas').waitFor({ timeout: 30_000 });
    await frame.locator('.dist-cdf canvas').waitFor({ timeout: 30_000 });
    const status = await frame.locator('.dist-status').innerText();
    assert.match(status, /^Took .* in the engine from the cached trace/);
    const median = Number(
      await frame.locator('.quantile-table tbody tr', { hasText: '50%' }).first().locator('td').first().innerText(),
    );
    const expected = kingmanMedian();
    assert.ok(Math.abs(median - expected) < 1e-8 * expected, `median ${median}, closed form ${expected}`);
    // Drawn: the density canvas has pixels of its curve (not only the background).
    const painted = await frame.locator('.dist-pdf canvas').evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    assert.ok(painted > 1000, `the density chart is drawn (${painted} painted pixels)`);
    const file = await screenshot(page, 'distribution-panel');
    console.log(`screenshot: ${file}`);
  }));

test('"Phasic: Fit Parameters to Data" fits the example spectrum in the engine and the estimate covers the truth', () =>
  explainFailure(async () => {
    const { page } = workbench;
    // The model must be the active editor (the command fits the model in view), and the
    // workbench's focus click lands in the first editor group: close every tab (empty
    // groups go with them) and open the model from the Explorer into the one group left.
    const closers = page.locator('.tabs-container .tab .codicon-close');
    for (let left = await closers.count(); left > 0; left = await closers.count()) {
      await closers.first().click({ force: true });
      await page.waitForFunction(
        (n) => document.querySelectorAll('.tabs-container .tab .codicon-close').length < n,
        left,
        { timeout: 10_000 },
      );
    }
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: /^two_deme_sfs\.phasic$/ }).click();
    await page.locator('.tabs-container .tab[aria-label^="two_deme_sfs.phasic"]').first().waitFor({ timeout: 20_000 });
    await runCommand(page, 'Phasic: Fit Parameters to Data');
    // The quick pick of the workspace's .fs files (examples/ has one), then the model's constants.
    const files = page.locator('.quick-input-widget', { hasText: 'two_deme_sfs.fs' });
    await files.waitFor({ timeout: 20_000 });
    await page.keyboard.press('Enter');
    const constants = page.locator('.quick-input-widget', { hasText: 'constants for this run' });
    await constants.waitFor({ timeout: 20_000 });
    await page.keyboard.press('Enter');
    await constants.waitFor({ state: 'hidden', timeout: 10_000 });
    const frame = await webviewFrame(page, STUDIO_TITLE);
    await frame.locator('.fit-summary', { hasText: 'two_deme_sfs.fs' }).waitFor({ timeout: 60_000 });
    assert.equal(await frame.locator('#fit-reward').inputValue(), 'xi');
    await frame.locator('vscode-checkbox[data-fit-param="mig"]').click();
    await frame.locator('vscode-button[data-action="fit"]').click();
    const row = frame.locator('.fit-estimates tbody tr').first();
    await row.waitFor({ timeout: 120_000 });
    const [name, estimate, stderr] = await row.locator('th, td').allInnerTexts();
    assert.equal(name, 'mig');
    // The file was simulated at mig = 0.3 (examples/two_deme_sfs.fs): within two standard errors.
    const mig = Number(estimate);
    const se = Number(stderr);
    assert.ok(se > 0 && Math.abs(mig - 0.3) < 2 * se, `mig = ${mig} ± ${se}`);
    assert.match(await frame.locator('.fit-status').innerText(), /^Converged after \d+ iterations/);
    assert.ok(Number(await frame.locator('.fit-loglik').getAttribute('data-steps')) > 0);
    // Use these values: the Moments tab's field follows.
    await frame.locator('vscode-button[data-action="use"]').click();
    await frame.locator('#tab-moments').click();
    const field = await frame
      .locator('.moments vscode-text-field[data-param="mig"]')
      .evaluate((e) => (e as HTMLInputElement).value);
    assert.ok(Math.abs(Number(field) - mig) < 1e-6 * mig, `Moments uses mig = ${field}`);
    const file = await screenshot(page, 'fit-panel');
    console.log(`screenshot: ${file}`);
  }));
