// Bundles, one per runtime: the extension (VS Code's extension host), the engine
// process (language server + native addon), the command-line tool, the webview
// (browser), and the test files (Node). The addon is never bundled: the engine
// process loads it by path at run time (extension/engine/addon.ts).
import * as esbuild from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

function files(dir, suffix) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...files(path, suffix));
    else if (name.endsWith(suffix)) out.push(path);
  }
  return out;
}

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  external: ['vscode'],
};

const builds = [
  { ...node, entryPoints: { extension: 'extension/host/main.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { server: 'extension/server/main.ts' }, outdir: 'dist' },
  {
    ...node,
    entryPoints: { cli: 'extension/cli/main.ts' },
    outdir: 'dist',
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    bundle: true,
    platform: 'browser',
    target: 'chrome120',
    format: 'iife',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
    entryPoints: { webview: 'webview/main.ts' },
    outdir: 'dist',
  },
  // The benchmark's model compiler (bench/run.mjs runs it; never shipped).
  { ...node, entryPoints: { compile: 'bench/compile.ts' }, outdir: 'out/bench' },
  {
    ...node,
    // Tests import the real modules they test; playwright-core and mocha stay
    // external so that they resolve from node_modules as their authors expect.
    external: ['vscode', 'playwright-core', 'mocha'],
    entryPoints: Object.fromEntries(
      [...files('test', '.test.ts'), ...files('test', 'index.ts')].map((f) => [
        relative('test', f).replace(/\.ts$/, ''),
        f,
      ]),
    ),
    outdir: 'out/test',
  },
];

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
