// End to end in a real VS Code (code-server 4.96 = VS Code 1.96) driven by Chromium:
// the extension installed from this checkout activates on a .phasic file, passes the
// extension-host suite (test/e2e/suite), and "Phasic: Show Memory Panel" from the
// command palette shows the engine's version and its accounted memory in the webview.
// Screenshot: test-results/memory-panel.png.
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
  webviewFrame,
  type Workbench,
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
