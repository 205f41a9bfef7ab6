// A real VS Code workbench for end-to-end tests: code-server (scripts/code-server.mjs)
// with Phasic Trace Studio installed from this checkout, driven by Debian's Chromium
// through playwright-core. Everything binds to 127.0.0.1. Each scenario gets its own
// folder under test-results/e2e/<name>/ (user data, logs, extensions, suite result),
// so a failure leaves everything needed to see why.
//
// The extension host only starts once a browser connects, so the extension-host
// mocha suite (test/e2e/suite) runs after `startWorkbench` opens the page; its result
// arrives through the runner extension (test/e2e/runner-extension).
import { cpSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Frame, Page } from 'playwright-core';
import type * as CodeServerScript from '../../scripts/code-server.mjs';
import { chromiumPath, launchChromium } from '../chromium';
import type { SuiteSummary } from './suite/index';

/** The checkout this bundle was built in (the folder whose package.json is ours). */
export const repoRoot = (() => {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'phasic-trace-studio') return dir;
  }
  throw new Error(`no phasic-trace-studio package.json above ${__dirname}`);
})();

export const examplesFolder = join(repoRoot, 'examples');
export const resultsFolder = join(repoRoot, 'test-results');

async function codeServerScript(): Promise<typeof CodeServerScript> {
  // Loaded, not bundled: the script finds the repository through import.meta.url.
  return import(pathToFileURL(join(repoRoot, 'scripts', 'code-server.mjs')).href);
}

export interface Workbench {
  page: Page;
  browser: Browser;
  server: CodeServerScript.CodeServer;
  /** test-results/e2e/<name>/ */
  folder: string;
  /** Where the runner extension writes the extension-host suite's summary. */
  suiteResultFile: string;
  /** What to print when a scenario fails: logs and where to find the rest. */
  diagnostics(): string;
  /** What the extension has written to its output channel so far (its log files). */
  extensionOutput(): string;
  close(): Promise<void>;
}

export interface WorkbenchOptions {
  /** Names the scenario's folder under test-results/e2e/. */
  name: string;
  /** The folder VS Code opens; by default a fresh copy of examples/ in the scenario's folder. */
  workspace?: string;
  /** Run the extension-host mocha suite (out/test/e2e/suite/index.js) in this workbench. */
  runSuite?: boolean;
  settings?: Record<string, unknown>;
}

export async function startWorkbench(options: WorkbenchOptions): Promise<Workbench> {
  chromiumPath(); // no Chromium: say so before starting code-server
  const script = await codeServerScript();
  script.installCodeServer();
  const folder = join(resultsFolder, 'e2e', options.name);
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  const userDataDir = join(folder, 'user-data');
  const suiteResultFile = join(folder, 'suite-result.json');
  const extensions = [repoRoot];
  const env: Record<string, string> = {};
  if (options.runSuite) {
    const suite = join(repoRoot, 'out', 'test', 'e2e', 'suite', 'index.js');
    if (!existsSync(suite)) throw new Error(`${suite} is missing: run node esbuild.mjs first`);
    extensions.push(join(repoRoot, 'test', 'e2e', 'runner-extension'));
    env.PHASIC_E2E_SUITE = suite;
    env.PHASIC_E2E_RESULT = suiteResultFile;
  }
  // A copy, never examples/ itself: a keystroke that lands in an editor (a slow machine
  // moving focus under the test) and a save must not change the product's examples.
  let workspace = options.workspace;
  if (!workspace) {
    workspace = join(folder, 'workspace');
    cpSync(examplesFolder, workspace, { recursive: true });
  }
  const server = await script.startCodeServer({
    userDataDir,
    extensionsDir: join(folder, 'extensions'),
    workspace,
    extensions,
    port: 8090,
    // The checkout's git repository sits above examples/: without this, a prompt to
    // open it covers the lower right corner of every screenshot.
    settings: { 'git.openRepositoryInParentFolders': 'never', ...options.settings },
    env,
  });

  const diagnostics = () => describeLogs(server, script.tail);
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    // The workbench's own console: where a UI-side failure shows first.
    const consoleLog = createWriteStream(join(folder, 'browser-console.log'));
    page.on('console', (message) => consoleLog.write(`[${message.type()}] ${message.text()}\n`));
    page.on('pageerror', (error) => consoleLog.write(`[pageerror] ${error.stack ?? error.message}\n`));
    // Not 'load': the workbench keeps loading for a while; .monaco-workbench is the signal.
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`, { waitUntil: 'commit' });
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    const opened = browser;
    return {
      page,
      browser: opened,
      server,
      folder,
      suiteResultFile,
      diagnostics,
      extensionOutput: () =>
        filesUnder(join(server.userDataDir, 'logs'))
          .filter((f) => f.endsWith('Phasic Trace Studio.log'))
          .map((f) => readFileSync(f, 'utf8'))
          .join('\n'),
      async close() {
        await opened.close().catch(() => undefined);
        await server.stop();
      },
    };
  } catch (error) {
    console.error(diagnostics());
    await browser?.close().catch(() => undefined);
    await server.stop();
    throw error;
  }
}

async function focusWorkbench(page: Page): Promise<void> {
  // Keyboard shortcuts reach VS Code only once its window has focus.
  await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } });
}

/**
 * Opens Quick Open with `shortcut`, types `text` and accepts the first match.
 * Early in a session the workbench may still move focus (a restored editor,
 * a notification, a webview shown a moment ago taking the focus it was shown
 * with once its page is ready), which closes the widget under the typed text or
 * makes another editor the active one; then the whole gesture is repeated
 * rather than accepting a match for the wrong editor.
 */
async function pickInQuickInput(page: Page, shortcut: string, text: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await focusWorkbench(page);
      const editor = await activeEditorTab(page);
      await page.keyboard.press(shortcut);
      await widget.waitFor({ state: 'visible', timeout: 10_000 });
      await widget.locator('.quick-input-box input').fill(text);
      // Enter accepts the first row. The palette lists recently used commands first
      // and filters a moment later, so a visible row is not yet a match: wait until
      // the first row names what was typed (a leading ">" only selects commands).
      await page.waitForFunction(
        (wanted) => {
          const row = document.querySelector('.quick-input-widget .monaco-list-row');
          return `${row?.getAttribute('aria-label') ?? ''} ${row?.textContent ?? ''}`.includes(wanted);
        },
        text.replace(/^>/, ''),
        { timeout: 10_000 },
      );
      // A command runs on the active editor: accept only while the typed text still
      // has the focus and the editor the gesture began in is still the active one.
      const focused = await page.evaluate(() => document.activeElement?.closest('.quick-input-widget') != null);
      if (!focused || (await activeEditorTab(page)) !== editor) {
        throw new Error(`the focus moved while "${text}" was typed (active editor: ${await activeEditorTab(page)})`);
      }
    } catch (error) {
      lastError = error;
      await page.keyboard.press('Escape');
      continue;
    }
    // Accepting is not retried: a command must not run twice. A command may open its
    // own quick pick at once in the same widget, which then never shows as hidden to a
    // poll: accepted means hidden, or holding something other than the typed text.
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      (typed) => {
        const shown = document.querySelector<HTMLElement>('.quick-input-widget');
        if (!shown || shown.getClientRects().length === 0) return true;
        return shown.querySelector<HTMLInputElement>('.quick-input-box input')?.value !== typed;
      },
      text,
      { timeout: 10_000 },
    );
    return;
  }
  throw lastError;
}

/** The label of the active editor group's active tab ("" when the group is empty). */
function activeEditorTab(page: Page): Promise<string> {
  return page.evaluate(
    () => document.querySelector('.editor-group-container.active .tab.active')?.getAttribute('aria-label') ?? '',
  );
}

/** Opens a workspace file by name through Quick Open (Ctrl+P) and waits for it to be the active editor. */
export async function openFile(page: Page, fileName: string): Promise<void> {
  await pickInQuickInput(page, 'Control+P', fileName);
  // Active, not only open: a command run next acts on the active editor.
  await page
    .locator(`.editor-group-container.active .tab.active[aria-label^="${fileName}"]`)
    .waitFor({ timeout: 20_000 });
}

/** Runs a command by its palette title, e.g. "Phasic: Show Memory Panel". */
export async function runCommand(page: Page, title: string): Promise<void> {
  // The palette opens with ">" already typed: keep it so the text matches commands.
  await pickInQuickInput(page, 'Control+Shift+P', `>${title}`);
}

/**
 * The content frame of the webview whose tab has `title`. VS Code renders each
 * webview as `iframe.webview` whose document hosts the content in `#active-frame`;
 * the visible one belongs to the active tab, so the tab is activated first.
 */
export async function webviewFrame(page: Page, title: string, timeoutMs = 30_000): Promise<Frame> {
  const tab = page.locator(`.tabs-container .tab[aria-label^="${title}"]`).first();
  await tab.waitFor({ timeout: timeoutMs });
  await tab.click();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const outer of await page.locator('iframe.webview').all()) {
      if (!(await outer.isVisible())) continue;
      const outerFrame = await (await outer.elementHandle())?.contentFrame();
      const inner = outerFrame ? await outerFrame.$('#active-frame') : null;
      const frame = await inner?.contentFrame();
      if (
        frame &&
        (await frame.evaluate(() => document.readyState === 'complete' && document.body !== null).catch(() => false))
      ) {
        return frame;
      }
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no visible webview content for the tab "${title}" within ${timeoutMs / 1000} s`);
}

/** Saves a full-window screenshot as test-results/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(resultsFolder, { recursive: true });
  const path = join(resultsFolder, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Waits for the extension-host suite's summary, written once all its tests ran. */
export async function suiteResult(workbench: Workbench, timeoutMs = 180_000): Promise<SuiteSummary> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(workbench.suiteResultFile)) {
    if (Date.now() > deadline) {
      throw new Error(
        `the extension-host suite wrote no result to ${workbench.suiteResultFile} within ${timeoutMs / 1000} s`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return JSON.parse(readFileSync(workbench.suiteResultFile, 'utf8')) as SuiteSummary;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

// The code-server log, the extension host log and the extension's own output
// channel (tails), and the paths of every other log.
function describeLogs(server: CodeServerScript.CodeServer, tail: (file: string, lines?: number) => string): string {
  const logs = filesUnder(join(server.userDataDir, 'logs')).filter((f) => f.endsWith('.log'));
  const interesting = logs.filter((f) => /remoteexthost\.log$|exthost\.log$|Phasic Trace Studio\.log$/.test(f));
  return [
    `code-server log (${server.logFile}):`,
    tail(server.logFile),
    ...interesting.flatMap((f) => [`--- ${relative(repoRoot, f)}:`, tail(f, 40)]),
    'other logs:',
    ...logs.filter((f) => !interesting.includes(f)).map((f) => `  ${relative(repoRoot, f)}`),
  ].join('\n');
}
