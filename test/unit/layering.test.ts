// The engine's folders form a line (docs/architecture.md, "Native engine"):
//   base → json, memory → model → graph → trace → distribution → cache → engine → binding
// A folder includes only from its own place in the line or earlier, so no two
// folders include each other and each can be read and tested without the later ones.
// engine/ is the library's face: outside native/src only the binding includes it.
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';

// Tests run from out/test/unit; the sources stay in the tree.
const ROOT = join(__dirname, '..', '..', '..');
const NATIVE = join(ROOT, 'native');

// A folder's place in the line; json and memory share one (neither includes the other).
const RANK: Record<string, number> = {
  base: 0,
  json: 1,
  memory: 1,
  model: 2,
  graph: 3,
  trace: 4,
  distribution: 5,
  cache: 6,
  engine: 7,
  binding: 8,
};

interface Include {
  file: string; // relative to native/, with forward slashes
  folder: string;
  target: string; // as written: "graph/graph.hpp"
  targetFolder: string; // a name without a folder is a header next to the includer
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(cpp|hpp)$/.test(name) ? [path] : [];
  });
}

function includes(): Include[] {
  const files = [...sources(join(NATIVE, 'src')), ...sources(join(NATIVE, 'binding'))];
  return files.flatMap((path) => {
    const file = relative(NATIVE, path).split(sep).join('/');
    const folder = file.startsWith('binding/') ? 'binding' : file.split('/')[1];
    return [...readFileSync(path, 'utf8').matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)].map(([, target]) => ({
      file,
      folder,
      target,
      targetFolder: target.includes('/') ? target.split('/')[0] : folder,
    }));
  });
}

// The rule, apart from the tree, so the test can show it rejects what it must.
function violations(all: Include[]): string[] {
  const found: string[] = [];
  for (const { file, folder, target, targetFolder } of all) {
    if (!(folder in RANK)) found.push(`${file}: folder "${folder}" has no place in the line`);
    else if (!(targetFolder in RANK)) found.push(`${file} includes "${target}", which is in no folder of the line`);
    else if (RANK[targetFolder] > RANK[folder])
      found.push(`${file} (${folder}) includes "${target}" from ${targetFolder}, later in the line`);
    else if (RANK[targetFolder] === RANK[folder] && targetFolder !== folder)
      found.push(`${file} (${folder}) includes "${target}" from ${targetFolder}, a sibling in the line`);
  }
  return found;
}

test('every native folder includes only from itself or earlier in the line', () => {
  const all = includes();
  assert.ok(all.length > 50, `only ${all.length} #include lines found under native/: wrong directory?`);
  assert.deepEqual(violations(all), []);
});

test('every folder of native/src has a place in the line, and every place is a folder', () => {
  const folders = readdirSync(join(NATIVE, 'src')).filter((n) => statSync(join(NATIVE, 'src', n)).isDirectory());
  assert.deepEqual(
    folders.sort(),
    Object.keys(RANK)
      .filter((f) => f !== 'binding')
      .sort(),
  );
});

test('outside engine/, only the binding includes engine headers', () => {
  const outside = includes().filter(
    (i) => i.targetFolder === 'engine' && i.folder !== 'engine' && i.folder !== 'binding',
  );
  assert.deepEqual(outside, []);
});

test('the rule rejects a backward include, a sibling include and an unknown folder', () => {
  const backward: Include = {
    file: 'src/model/x.hpp',
    folder: 'model',
    target: 'graph/graph.hpp',
    targetFolder: 'graph',
  };
  const sibling: Include = {
    file: 'src/json/x.hpp',
    folder: 'json',
    target: 'memory/accounting.hpp',
    targetFolder: 'memory',
  };
  const unknown: Include = { file: 'src/trace/x.cpp', folder: 'trace', target: 'util/x.hpp', targetFolder: 'util' };
  const forward: Include = {
    file: 'src/graph/x.cpp',
    folder: 'graph',
    target: 'model/program.hpp',
    targetFolder: 'model',
  };
  assert.equal(violations([backward, sibling, unknown, forward]).length, 3);
});
