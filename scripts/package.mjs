// `npm run package` (after `npm run build`): the installable .vsix. vsce packages by
// the .vscodeignore allowlist: the bundles in dist/ (which hold every JavaScript
// dependency, hence --no-dependencies), the built addon, the grammar, the language
// configuration, the manifest, README (with its images) and LICENSE.
// test/unit/package.test.ts opens the result and checks that nothing else is inside.
//
//   node scripts/package.mjs [--out file.vsix]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
const outIndex = process.argv.indexOf('--out');
const out = resolve(
  outIndex > 0 ? process.argv[outIndex + 1] : join(repoRoot, `${manifest.name}-${manifest.version}.vsix`),
);

// What the installed extension cannot run without; vsce would package without them.
const required = ['dist/extension.js', 'dist/server.js', 'dist/webview.js', 'native/build/Release/phasic_engine.node'];
const missing = required.filter((path) => !existsSync(join(repoRoot, path)));
if (missing.length > 0) {
  console.error(`cannot package: ${missing.join(', ')} missing; run npm run build (and npm install for the addon)`);
  process.exit(1);
}

const vsce = join(dirname(createRequire(import.meta.url).resolve('@vscode/vsce/package.json')), 'vsce');
const result = spawnSync(
  process.execPath,
  // Relative links stay relative: the README's images are packaged beside it, so
  // they render in VS Code's extension view without a repository URL.
  [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', out],
  { cwd: repoRoot, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
