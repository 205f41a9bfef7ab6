// Loads the real webview bundle (dist/webview.js, dist/webview.css) in Chromium
// (test/chromium.ts), inside the very page the host serves (renderStudioPage, same CSP), with
// a stand-in for VS Code's `acquireVsCodeApi` that records what the page posts and
// applies a theme's variables the way VS Code does before the page's scripts run.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { renderStudioPage } from '../../extension/host/panel/html';
import type { HostMessage, StudioTab, WebviewMessage } from '../../extension/protocol/webview';
import { launchChromium } from '../chromium';

export type ThemeName = 'dark' | 'light' | 'high-contrast';

const ROOT = process.cwd();
const ORIGIN = 'https://studio.phasic.test';
const themes = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/webview/themes.json'), 'utf8')) as Record<
  ThemeName,
  { bodyClass: string; vars: Record<string, string> }
>;

/**
 * One Chromium for the calling test file: launched before its tests, with
 * test-results/ ready for screenshots, and closed after them. Returns its getter.
 */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchChromium();
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
  });
  after(async () => {
    await browser?.close();
  });
  return () => {
    assert.ok(browser, 'the browser is launched before the tests run');
    return browser;
  };
}

export interface Studio {
  page: Page;
  /** Messages the page posted to the host, in order. */
  posted(): Promise<WebviewMessage[]>;
  /**
   * Waits until the page has posted `count` messages of `type` in all (a debounced
   * message: the wait ends when the page's timer fires, whatever the delay).
   */
  waitForPosted(type: WebviewMessage['type'], count?: number): Promise<WebviewMessage[]>;
  send(m: HostMessage | unknown): Promise<void>;
  setTheme(name: ThemeName): Promise<void>;
  /** CSP violations and page errors seen so far. */
  problems(): string[];
}

export async function openStudio(
  browser: Browser,
  theme: ThemeName,
  tab: StudioTab = 'memory',
  size = { width: 1100, height: 800 },
): Promise<Studio> {
  const page = await browser.newPage({ viewport: size, deviceScaleFactor: 1 });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  await page.route(`${ORIGIN}/**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/index.html') {
      return route.fulfill({
        contentType: 'text/html',
        body: renderStudioPage({
          cspSource: ORIGIN,
          scriptUri: `${ORIGIN}/dist/webview.js`,
          styleUri: `${ORIGIN}/dist/webview.css`,
          nonce: 'testnonce0123456789',
          tab,
        }),
      });
    }
    if (url.pathname === '/dist/webview.js' || url.pathname === '/dist/webview.css') {
      return route.fulfill({
        contentType: url.pathname.endsWith('.js') ? 'text/javascript' : 'text/css',
        body: readFileSync(join(ROOT, url.pathname.slice(1))),
      });
    }
    return route.fulfill({ status: 404, body: '' });
  });
  await page.addInitScript((t: { bodyClass: string; vars: Record<string, string> }) => {
    const w = window as unknown as Record<string, unknown>;
    const posted: unknown[] = [];
    w.__posted = posted;
    w.__theme = t;
    document.addEventListener('securitypolicyviolation', (e) => {
      w.__csp ??= [];
      (w.__csp as string[]).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
    w.__applyTheme = (theme: { bodyClass: string; vars: Record<string, string> }) => {
      for (const [k, v] of Object.entries(theme.vars)) document.documentElement.style.setProperty(k, v);
      document.body.className = theme.bodyClass;
    };
    w.acquireVsCodeApi = () => {
      (w.__applyTheme as (x: unknown) => void)(w.__theme);
      let state: unknown;
      return {
        postMessage: (m: unknown) => posted.push(JSON.parse(JSON.stringify(m))),
        getState: () => state,
        setState: (s: unknown) => (state = s),
      };
    };
  }, themes[theme]);
  await page.goto(`${ORIGIN}/index.html`);
  await page.waitForFunction(() => ((window as unknown as { __posted: unknown[] }).__posted ?? []).length > 0);
  return {
    page,
    posted: () => page.evaluate(() => (window as unknown as { __posted: WebviewMessage[] }).__posted),
    waitForPosted: async (type, count = 1) => {
      await page.waitForFunction(
        ([t, n]) =>
          (window as unknown as { __posted: WebviewMessage[] }).__posted.filter((m) => m.type === t).length >=
          (n as number),
        [type, count] as const,
      );
      return (await page.evaluate(() => (window as unknown as { __posted: WebviewMessage[] }).__posted)).filter(
        (m) => m.type === type,
      );
    },
    send: async (m) => {
      // As a JSON string: Playwright's structured argument transfer is slow for large
      // objects, and the page should see plain JSON data as VS Code delivers it.
      await page.evaluate((json) => window.postMessage(JSON.parse(json), '*'), JSON.stringify(m));
      // Let the page handle the message and paint.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    },
    setTheme: async (name) => {
      await page.evaluate(
        (t) => (window as unknown as { __applyTheme: (x: unknown) => void }).__applyTheme(t),
        themes[name],
      );
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    },
    problems: () => problems,
  };
}

export async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => ((window as unknown as { __csp?: string[] }).__csp ?? []).slice());
}

export function screenshotPath(name: string): string {
  return join(ROOT, 'test-results', `webview-${name}.png`);
}

/** How many pixels of the canvas under `selector` are (nearly) `hex`: a curve or bar is drawn there. */
export async function pixelsOf(studio: Studio, selector: string, hex: string): Promise<number> {
  return studio.page.locator(`${selector} canvas`).evaluate((c, h) => {
    const canvas = c as HTMLCanvasElement;
    const want = [1, 3, 5].map((i) => Number.parseInt(h.slice(i, i + 2), 16));
    const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 200 && want.every((w, k) => Math.abs(d[i + k] - w) < 24)) n++;
    }
    return n;
  }, hex);
}
