// The .vsix `npm run package` makes holds exactly what the installed extension runs:
// the four bundles, the addon, the grammar, the language configuration, manifest,
// README (with its images) and LICENSE, and no sources, source maps, tests or
// node_modules.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';

// Tests run from out/test/unit; the scripts stay in the tree.
const ROOT = join(__dirname, '..', '..', '..');

// A .vsix is a zip: its central directory (found through the end-of-central-directory
// record at the end of the file) names every entry and where its data starts.
interface ZipEntry {
  method: number;
  compressedSize: number;
  localHeader: number;
}

function zipEntries(zip: Buffer): Map<string, ZipEntry> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'not a zip file: no end-of-central-directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, ZipEntry>();
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50, `central directory entry ${i} has a bad signature`);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    entries.set(zip.toString('utf8', at + 46, at + 46 + nameLength), {
      method: zip.readUInt16LE(at + 10),
      compressedSize: zip.readUInt32LE(at + 20),
      localHeader: zip.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function zipRead(zip: Buffer, entry: ZipEntry): Buffer {
  const at = entry.localHeader;
  const start = at + 30 + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28);
  const data = zip.subarray(start, start + entry.compressedSize);
  return entry.method === 8 ? inflateRawSync(data) : Buffer.from(data);
}

let dir: string;
let zip: Buffer;
let entries: string[];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'phasic-vsix-'));
  const vsix = join(dir, 'phasic-trace-studio.vsix');
  const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--out', vsix], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, `scripts/package.mjs failed:\n${run.stdout}\n${run.stderr}`);
  zip = readFileSync(vsix);
  entries = [...zipEntries(zip).keys()].sort();
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('the vsix holds the bundles, the addon, the grammar, the language configuration, manifest, README and LICENSE', () => {
  for (const path of [
    'extension/package.json',
    'extension/readme.md',
    'extension/LICENSE.txt',
    'extension/dist/extension.js',
    'extension/dist/server.js',
    'extension/dist/cli.js',
    'extension/dist/webview.js',
    'extension/native/build/Release/phasic_engine.node',
    'extension/syntaxes/phasic.tmLanguage.json',
    'extension/language-configuration.json',
  ]) {
    assert.ok(entries.includes(path), `${path} is not in the vsix:\n${entries.join('\n')}`);
  }
});

test('the vsix holds nothing else: no sources, maps, tests, build objects or node_modules', () => {
  const allowed = [
    /^\[Content_Types\]\.xml$/,
    /^extension\.vsixmanifest$/,
    /^extension\/(package\.json|readme\.md|LICENSE\.txt|language-configuration\.json)$/,
    /^extension\/dist\/(extension|server|cli|webview)\.js$/,
    /^extension\/dist\/webview\.css$/,
    /^extension\/native\/build\/Release\/phasic_engine\.node$/,
    /^extension\/syntaxes\/[^/]+\.tmLanguage\.json$/,
    /^extension\/docs\/images\/[^/]+\.png$/,
  ];
  const unexpected = entries.filter((e) => !allowed.some((pattern) => pattern.test(e)));
  assert.deepEqual(unexpected, [], `unexpected files in the vsix`);
});

test("the packaged manifest is the checkout's: same id, version, entry point and commands", () => {
  const packaged = JSON.parse(zipRead(zip, zipEntries(zip).get('extension/package.json')!).toString('utf8'));
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(`${packaged.publisher}.${packaged.name}`, 'phasic.phasic-trace-studio');
  assert.equal(packaged.version, manifest.version);
  assert.equal(packaged.main, './dist/extension.js');
  assert.deepEqual(packaged.contributes.commands, manifest.contributes.commands);
  // The addon inside is a loadable ELF shared object, not a placeholder.
  const addon = zipRead(zip, zipEntries(zip).get('extension/native/build/Release/phasic_engine.node')!);
  assert.equal(addon.subarray(0, 4).toString('latin1'), '\x7fELF');
});

test('every image the README shows is packaged at its relative path', () => {
  const readme = zipRead(zip, zipEntries(zip).get('extension/readme.md')!).toString('utf8');
  const images = [...readme.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)]
    .map((m) => m[1])
    .filter((src) => !/^[a-z]+:/i.test(src));
  for (const src of images) assert.ok(entries.includes(`extension/${src}`), `README image ${src} is not in the vsix`);
});
