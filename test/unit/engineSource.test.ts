// The engine's source identity reaches every build, incremental ones included
// (scripts/engine-source.mjs, native/binding.gyp). The addon's identity once came from a
// -D evaluated when node-gyp configured, so `node-gyp build` after an edit kept the old
// identity and the disk cache could serve what an older engine wrote. Now the header is
// an action of the build whose inputs are every file under native/src, written only when
// its hash changes (so one file recompiles). cli-disk.test checks the built addon.
import * as assert from 'node:assert/strict';
import { execSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';

const ROOT = join(__dirname, '..', '..', '..');
const NATIVE = join(ROOT, 'native');
const SCRIPT = join(ROOT, 'scripts', 'engine-source.mjs');

interface Action {
  action_name: string;
  inputs: string[];
  outputs: string[];
  action: string[];
}
interface Target {
  target_name: string;
  actions?: Action[];
  include_dirs: string[];
  defines: string[];
}

function addonTarget(): Target {
  const gyp = JSON.parse(readFileSync(join(NATIVE, 'binding.gyp'), 'utf8')) as { targets: Target[] };
  const target = gyp.targets.find((t) => t.target_name === 'phasic_engine');
  assert.ok(target, 'binding.gyp has no phasic_engine target');
  return target;
}

// gyp's `<!@(command)`: the command's output, split on white space, run in the .gyp's folder.
function expand(input: string): string[] {
  const command = /^<!@\((.*)\)$/.exec(input);
  if (!command) return [input];
  return execSync(command[1], { cwd: NATIVE, encoding: 'utf8' }).trim().split(/\s+/);
}

test('the addon takes its identity from a header the build writes, with every engine source as an input', () => {
  const target = addonTarget();
  assert.ok(
    target.defines.every((d) => !d.startsWith('PHASIC_ENGINE_SOURCE')),
    'a -D is fixed at configure time: an incremental build would keep an older identity',
  );
  const action = target.actions?.find((a) => a.outputs.some((o) => o.endsWith('/phasic_engine_source.h')));
  assert.ok(action, 'no build action writes phasic_engine_source.h');
  assert.ok(target.include_dirs.includes('<(SHARED_INTERMEDIATE_DIR)'));
  assert.deepEqual(action.action.slice(0, 3), ['node', '../scripts/engine-source.mjs', '--header']);
  const inputs = new Set(action.inputs.flatMap(expand));
  assert.ok(inputs.has('../scripts/engine-source.mjs'));
  const sources = (readdirSync(join(NATIVE, 'src'), { recursive: true }) as string[])
    .map((f) => join(NATIVE, 'src', f))
    .filter((f) => statSync(f).isFile())
    .map((f) => relative(NATIVE, f).split(sep).join('/'));
  assert.ok(sources.length > 50);
  const missing = sources.filter((f) => !inputs.has(f));
  assert.deepEqual(missing, [], 'an edit of these would not rewrite the identity');
});

test('the header is written once per hash, so an unchanged tree recompiles nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-source-'));
  try {
    const write = () => spawnSync(process.execPath, [SCRIPT, '--header', dir], { encoding: 'utf8' });
    assert.equal(write().status, 0);
    const header = join(dir, 'phasic_engine_source.h');
    const text = readFileSync(header, 'utf8');
    assert.match(text, /^#define PHASIC_ENGINE_SOURCE "[0-9a-f]{32}"$/m);
    const first = statSync(header).mtimeMs;
    spawnSync('sleep', ['0.05']);
    assert.equal(write().status, 0);
    assert.equal(statSync(header).mtimeMs, first);
    assert.equal(readFileSync(header, 'utf8'), text);
    const usage = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: node scripts\/engine-source\.mjs --header DIR/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
