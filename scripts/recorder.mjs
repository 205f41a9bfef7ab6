// The recorders of webview fixtures (record-webview-fixture.mjs, record-fit-fixture.mjs)
// are TypeScript over the project's modules, kept inline in their scripts; this bundles
// one on the fly with esbuild and loads it, so both build it the same way.
import * as esbuild from 'esbuild';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the recorders' imports resolve from here. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Bundles the TypeScript `source` (imports relative to the repository root) into
 * out/scripts/<name>.cjs and answers its exports.
 */
export async function loadRecorder(name, source) {
  const out = join(root, 'out', 'scripts', `${name}.cjs`);
  mkdirSync(dirname(out), { recursive: true });
  await esbuild.build({
    stdin: { contents: source, resolveDir: root, loader: 'ts', sourcefile: `${name}.ts` },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: out,
    logLevel: 'warning',
  });
  return createRequire(import.meta.url)(out);
}
