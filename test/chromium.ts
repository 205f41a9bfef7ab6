// Debian's Chromium for the tests that render in a browser: the webview tests
// (test/webview/harness.ts) and the code-server end to end (test/e2e/workbench.ts).
import assert from 'node:assert/strict';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/**
 * The Chromium to drive: $PHASIC_CHROMIUM (or $CHROMIUM) when set, else the first of
 * CHROMIUM_NAMES on PATH (Debian's package installs /usr/bin/chromium).
 */
export function chromiumPath(): string {
  const named = process.env.PHASIC_CHROMIUM || process.env.CHROMIUM;
  if (named) {
    assert.ok(isExecutable(named), `PHASIC_CHROMIUM/CHROMIUM names ${named}, which is not an executable file`);
    return named;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of CHROMIUM_NAMES) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  throw new Error(
    `No Chromium found: none of ${CHROMIUM_NAMES.join(', ')} is on PATH. Install Debian's chromium package (.ci/run lists it) or set PHASIC_CHROMIUM to a Chromium executable.`,
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Headless Chromium as this machine allows it: as root, without a GPU, and without the
 * background connections a closed network refuses.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
