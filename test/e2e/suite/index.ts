// The extension-host test suite: mocha running inside a real VS Code, against the
// `vscode` API. One bundle (out/test/e2e/suite/index.js) holds every suite file, so
// nothing has to be found on disk from inside the extension host.
//
// Two launchers call it: @vscode/test-electron (test/e2e/launch-electron.mjs) calls
// `run()`, which must reject on failure; the code-server harness's runner extension
// (test/e2e/runner-extension) calls `runMocha()` for the counts.
import Mocha from 'mocha';
import { activationSuite } from './activation.suite';
import { memoryPanelSuite } from './memoryPanel.suite';
import { soakSuite } from './soak.suite';

export interface SuiteFailure {
  title: string;
  error: string;
}

export interface SuiteSummary {
  passed: number;
  failed: number;
  /** Tests mocha did not run (`test.skip`, `this.skip()`): not passes. */
  skipped: number;
  failures: SuiteFailure[];
}

const suites = [activationSuite, memoryPanelSuite, soakSuite];

export function runMocha(): Promise<SuiteSummary> {
  const mocha = new Mocha({ ui: 'tdd', timeout: 60_000, color: false });
  // What mocha does before requiring each test file: define suite/test/... globals.
  mocha.suite.emit('pre-require', globalThis, 'phasic-e2e-suite', mocha);
  for (const define of suites) define();
  return new Promise((resolve) => {
    const summary: SuiteSummary = { passed: 0, failed: 0, skipped: 0, failures: [] };
    const runner = mocha.run();
    runner.on('pass', () => summary.passed++);
    runner.on('pending', () => summary.skipped++);
    runner.on('fail', (test, error: Error) => {
      summary.failed++;
      summary.failures.push({ title: test.fullTitle(), error: String(error?.stack ?? error) });
    });
    runner.on('end', () => resolve(summary));
  });
}

export async function run(): Promise<void> {
  const summary = await runMocha();
  console.log(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
  if (summary.failed > 0) {
    throw new Error(
      `${summary.failed} extension-host test(s) failed:\n${summary.failures.map((f) => `${f.title}: ${f.error}`).join('\n')}`,
    );
  }
}
