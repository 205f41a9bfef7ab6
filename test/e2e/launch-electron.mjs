// The extension-host suite (test/e2e/suite) in desktop VS Code, for machines that can
// download it: @vscode/test-electron fetches a VS Code build, starts it with this
// checkout as a development extension on examples/, and runs the bundled suite's
// `run()`. CI machines cannot download VS Code; there the same suite runs inside
// code-server (test/e2e/code-server.test.ts). Build first: node esbuild.mjs.
//
//   node test/e2e/launch-electron.mjs [vscode version, default 1.96.4]

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTests } from '@vscode/test-electron';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

try {
  await runTests({
    version: process.argv[2] ?? '1.96.4',
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: join(repoRoot, 'out', 'test', 'e2e', 'suite', 'index.js'),
    launchArgs: [join(repoRoot, 'examples'), '--disable-extensions', '--disable-workspace-trust'],
  });
} catch (error) {
  console.error(`extension-host tests failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
