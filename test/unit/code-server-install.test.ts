// How scripts/code-server.mjs installs an unpacked extension into code-server: only
// the shipped paths (the .vscodeignore allowlist), as links to the checkout, except
// package.json, which is copied because code-server rewrites it.
import * as assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type * as CodeServerScript from '../../scripts/code-server.mjs';

// Tests run from out/test/unit; the scripts stay in the tree.
const ROOT = join(__dirname, '..', '..', '..');
const script = (): Promise<typeof CodeServerScript> =>
  import(pathToFileURL(join(ROOT, 'scripts', 'code-server.mjs')).href);
const temp = mkdtempSync(join(tmpdir(), 'phasic-install-'));
after(() => rmSync(temp, { recursive: true, force: true }));

test('the shipped paths are the manifest, README and the allowlisted files that exist, never sources', async () => {
  const { shippedPaths } = await script();
  const paths = shippedPaths(ROOT);
  for (const path of ['package.json', 'README.md', 'LICENSE', 'syntaxes'])
    assert.ok(paths.includes(path), `${path} missing from ${paths}`);
  for (const path of paths)
    assert.doesNotMatch(path, /^(extension|webview|native\/src|node_modules|test|\.cache)(\/|$)/);
});

test('a folder without .vscodeignore ships only its manifest and README', async () => {
  const { shippedPaths } = await script();
  const folder = mkdtempSync(join(temp, 'bare-'));
  writeFileSync(join(folder, 'package.json'), '{}');
  writeFileSync(join(folder, 'main.js'), '');
  assert.deepEqual(shippedPaths(folder), ['package.json']);
});

test('installing links each shipped path under <publisher>.<name>-<version> and copies package.json', async () => {
  const { installExtension, shippedPaths } = await script();
  const target = installExtension(join(temp, 'extensions'), ROOT);
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(target, join(temp, 'extensions', `${manifest.publisher}.${manifest.name}-${manifest.version}`));
  for (const path of shippedPaths(ROOT)) {
    const installed = join(target, path);
    if (path === 'package.json') {
      assert.ok(!lstatSync(installed).isSymbolicLink(), 'package.json must be a copy');
      // What code-server does to it must not reach the checkout.
      writeFileSync(installed, '{"__metadata":{}}');
      assert.equal(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).name, 'phasic-trace-studio');
    } else {
      assert.equal(readlinkSync(installed), join(ROOT, path));
    }
  }
});

test('installing again replaces the previous install', async () => {
  const { installExtension } = await script();
  const first = installExtension(join(temp, 'again'), ROOT);
  writeFileSync(join(first, 'stale.txt'), 'left over');
  const second = installExtension(join(temp, 'again'), ROOT);
  assert.equal(second, first);
  assert.throws(() => lstatSync(join(second, 'stale.txt')), /ENOENT/);
});
