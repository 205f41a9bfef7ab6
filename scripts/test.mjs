// `npm test`: builds what the tests need from any state of the checkout, runs every
// suite, prints a table of passes, failures and skips per suite, and ends with exactly
// one line "N passed, N failed, N skipped" (totals). Exits non-zero when anything failed
// or a suite could not run; a suite that could not run counts as one failure, so the
// last line never reads "0 failed" on a failing run. A skipped test is not a pass: it
// shows in its suite's row and in the total, so a green run that skipped says so.
//
//   node scripts/test.mjs                 everything (what CI runs)
//   node scripts/test.mjs --quick         without the sanitizer build, the fuzzers and the e2e
//   node scripts/test.mjs language e2e    only the named suites (see SUITES)
//   node scripts/test.mjs --no-build      run against what is built
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './code-server.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const noBuild = args.includes('--no-build');
const selected = args.filter((a) => !a.startsWith('--'));
process.chdir(repoRoot);

const addon = join('native', 'build', 'Release', 'phasic_engine.node');

/** @typedef {{ suite: string, passed: number, failed: number, skipped?: number, note?: string }} Row */
/** @type {Row[]} */
const rows = [];

// Runs a command with its output shown live and kept for parsing.
function run(command, commandArgs, options = {}) {
  return new Promise((resolve) => {
    console.log(`\n$ ${command} ${commandArgs.join(' ')}`);
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let output = '';
    const keep = (stream, sink) =>
      stream.on('data', (chunk) => {
        output += chunk;
        sink.write(chunk);
      });
    keep(child.stdout, process.stdout);
    keep(child.stderr, process.stderr);
    child.on('error', (error) => resolve({ status: -1, output: `${output}\n${error.message}` }));
    child.on('close', (status, signal) => resolve({ status: status ?? signal, output }));
  });
}

function newest(paths) {
  let latest = 0;
  for (const path of paths) {
    const stat = statSync(path);
    latest = Math.max(latest, stat.isDirectory() ? newest(readdirSync(path).map((n) => join(path, n))) : stat.mtimeMs);
  }
  return latest;
}

// ---- build ----

async function build() {
  if (!existsSync(join('node_modules', '.package-lock.json'))) {
    // A checkout without its dependencies: install exactly the locked ones (this also
    // builds the addon through the package's install script).
    const { status } = await run('npm', ['ci', '--no-audit', '--no-fund']);
    if (status !== 0) {
      rows.push({ suite: 'build: npm ci', passed: 0, failed: 1, note: 'dependencies could not be installed' });
      return false;
    }
  }
  const sources = ['native/src', 'native/binding', 'native/binding.gyp'].filter((p) => existsSync(p));
  if (!existsSync(addon) || statSync(addon).mtimeMs < newest(sources)) {
    // The package's own install script (node-gyp rebuild --directory native), so the
    // addon is built exactly as `npm install` builds it; npm puts node-gyp on PATH.
    const { status } = await run('npm', ['run', 'install']);
    if (status !== 0)
      rows.push({ suite: 'build: native addon', passed: 0, failed: 1, note: `node-gyp exit ${status}` });
  }
  // Fresh bundles only: a test deleted from test/ must not keep running from out/.
  rmSync(join('out', 'test'), { recursive: true, force: true });
  const bundles = await run(process.execPath, ['esbuild.mjs']);
  if (bundles.status !== 0) {
    rows.push({ suite: 'build: esbuild', passed: 0, failed: 1, note: 'bundling failed; bundled suites not run' });
    return false;
  }
  const types = await run('npx', ['tsc', '-b']);
  const typeErrors = (types.output.match(/error TS\d+/g) ?? []).length;
  rows.push({
    suite: 'typecheck (tsc -b)',
    passed: types.status === 0 ? 1 : 0,
    failed: types.status === 0 ? 0 : Math.max(typeErrors, 1),
  });
  return true;
}

// ---- result parsers ----

// node --test's TAP summary: "# pass N", "# fail N", "# cancelled N", "# skipped N",
// "# todo N" (node counts a skipped or todo test in neither pass nor fail).
function tapCounts(tap) {
  const count = (name) => Number(tap.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? NaN);
  const skipped = (count('skipped') || 0) + (count('todo') || 0);
  return { passed: count('pass'), failed: count('fail') + (count('cancelled') || 0), skipped };
}

// A summary line: "N passed, N failed" with an optional ", N skipped" (the C++
// harness, the fuzzers and this script's own last line share the form).
const SUMMARY = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/gm;

// The C++ harness: each test program ends with a summary line.
function nativeCounts(output) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let programs = 0;
  for (const [, p, f, s] of output.matchAll(SUMMARY)) {
    passed += Number(p);
    failed += Number(f);
    skipped += Number(s ?? 0);
    programs++;
  }
  return { passed, failed, skipped, programs };
}

// ---- suites ----

async function nativeSuite(name, flags = []) {
  const { status, output } = await run(process.execPath, ['scripts/native-tests.mjs', ...flags]);
  const { passed, failed, skipped, programs } = nativeCounts(output);
  const expected = Number(output.match(/# native: \d+ of (\d+) test programs/)?.[1] ?? NaN);
  // A program that crashed or did not compile prints no summary line of its own.
  const missing = Number.isNaN(expected) ? 1 : Math.max(expected - programs, 0);
  let total = failed + missing;
  let note = missing > 0 ? `${missing} program(s) without a result` : undefined;
  if (status !== 0 && total === 0) {
    total = 1;
    note = `exit ${status}`;
  }
  rows.push({ suite: name, passed, failed: total, skipped, note });
}

// libFuzzer over the native readers under ASan/UBSan for a fixed time per target
// (the long form is `node scripts/fuzz.mjs --seconds 600`).
async function fuzzSuite() {
  const { status, output } = await run(process.execPath, ['scripts/fuzz.mjs', '--seconds', '30']);
  const summary = [...output.matchAll(SUMMARY)].at(-1);
  const passed = Number(summary?.[1] ?? 0);
  let failed = Number(summary?.[2] ?? 0);
  if (status !== 0 && failed === 0) failed = 1;
  rows.push({
    suite: 'fuzz (libFuzzer, 30 s a target)',
    passed,
    failed,
    note: summary ? undefined : status !== 0 ? `exit ${status}` : undefined,
  });
}

async function nodeTestSuite(name, paths) {
  mkdirSync('test-results', { recursive: true });
  const tapFile = join('test-results', `${name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}.tap`);
  const { status } = await run(process.execPath, [
    // A hung test fails after 15 minutes instead of holding CI forever.
    '--test',
    '--test-timeout=900000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...paths,
  ]);
  const { passed, failed, skipped } = existsSync(tapFile)
    ? tapCounts(readFileSync(tapFile, 'utf8'))
    : { passed: NaN, failed: NaN, skipped: 0 };
  if (Number.isNaN(passed) || Number.isNaN(failed)) {
    rows.push({ suite: name, passed: 0, failed: 1, note: `no test summary (exit ${status})` });
  } else {
    const note = status !== 0 && failed === 0 ? `exit ${status}` : undefined;
    rows.push({ suite: name, passed, failed: failed + (note ? 1 : 0), skipped, note });
  }
}

// Every area of bundled Node tests (out/test/<area>/), except the e2e harness.
function nodeTestAreas() {
  const root = join('out', 'test');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((area) => area !== 'e2e' && statSync(join(root, area)).isDirectory())
    .filter((area) => readdirSync(join(root, area), { recursive: true }).some((f) => String(f).endsWith('.test.js')))
    .sort();
}

async function e2eSuite() {
  const install = await run(process.execPath, ['scripts/code-server.mjs', 'install']);
  if (install.status !== 0) {
    rows.push({ suite: 'e2e (code-server)', passed: 0, failed: 1, note: 'code-server install failed' });
    return;
  }
  // Results of an earlier run must not stand in for this one.
  const scenarios = join('test-results', 'e2e');
  rmSync(scenarios, { recursive: true, force: true });
  await nodeTestSuite('e2e (code-server)', [join('out', 'test', 'e2e', 'code-server.test.js')]);
  // Its own workbench, after the first one closed (the machine has two cores).
  await nodeTestSuite('e2e (host scenarios)', [join('out', 'test', 'e2e', 'host.test.js')]);
  // The mocha suite inside the extension host reports through the runner extension,
  // into the folder of the scenario that ran it.
  const results = existsSync(scenarios)
    ? readdirSync(scenarios)
        .map((name) => join(scenarios, name, 'suite-result.json'))
        .filter((f) => existsSync(f))
    : [];
  if (results.length === 0) {
    rows.push({ suite: 'e2e (extension host mocha)', passed: 0, failed: 1, note: 'no result: the suite did not run' });
  }
  for (const file of results) {
    const { passed, failed, skipped } = JSON.parse(readFileSync(file, 'utf8'));
    rows.push({ suite: 'e2e (extension host mocha)', passed, failed, skipped: skipped ?? 0 });
  }
}

// Biome's recommended rules and the import boundaries of biome.json over the
// TypeScript and JavaScript: each error is a failure; warnings are shown, not counted.
async function lintSuite() {
  const biome = join('node_modules', '@biomejs', 'biome', 'bin', 'biome');
  const { status, output } = await run(process.execPath, [biome, 'lint', '--max-diagnostics=50']);
  const count = (what) => Number(output.match(new RegExp(`Found (\\d+) ${what}`))?.[1] ?? 0);
  const errors = count('errors?');
  const warnings = count('warnings?');
  const failed = status === 0 ? 0 : Math.max(errors, 1);
  const note = status !== 0 && errors === 0 ? `exit ${status}` : warnings > 0 ? `${warnings} warning(s)` : undefined;
  rows.push({ suite: 'lint (biome)', passed: failed === 0 ? 1 : 0, failed, note });
}

// Biome's formatter and clang-format in check mode: one pass per formatted file, one
// failure per file that is not formatted (scripts/format.mjs --check).
async function formatSuite() {
  const { status, output } = await run(process.execPath, ['scripts/format.mjs', '--check']);
  const summary = [...output.matchAll(SUMMARY)].at(-1);
  const passed = Number(summary?.[1] ?? 0);
  let failed = Number(summary?.[2] ?? 0);
  if (status !== 0 && failed === 0) failed = 1;
  const note = !summary ? `exit ${status}` : failed > 0 ? '`npm run format` formats them' : undefined;
  rows.push({ suite: 'format (biome, clang-format)', passed, failed, note });
}

// ---- main ----

const SUITES = ['lint', 'format', 'native', 'sanitize', 'fuzz', 'node', 'e2e'];
const SLOW = ['sanitize', 'fuzz', 'e2e'];
const wanted = (suite) => (selected.length === 0 ? !(quick && SLOW.includes(suite)) : selected.includes(suite));

const started = Date.now();
const built = noBuild ? true : await build();
if (wanted('lint')) await lintSuite();
if (wanted('format')) await formatSuite();
if (wanted('native')) await nativeSuite('native (C++)');
if (wanted('sanitize')) {
  await nativeSuite('native (ASan+UBSan+LSan)', ['--sanitize']);
  await nativeSuite('native threads (TSan)', ['--thread-sanitize']);
}
if (wanted('fuzz')) await fuzzSuite();
if (built) {
  for (const area of nodeTestAreas()) {
    if (wanted('node') || selected.includes(area)) await nodeTestSuite(area, [join('out', 'test', area)]);
  }
  if (wanted('e2e')) await e2eSuite();
}
for (const name of selected) {
  if (!SUITES.includes(name) && !nodeTestAreas().includes(name)) {
    rows.push({
      suite: name,
      passed: 0,
      failed: 1,
      note: `no such suite (${[...SUITES, ...nodeTestAreas()].join(', ')})`,
    });
  }
}

const width = Math.max(...rows.map((r) => r.suite.length), 5);
console.log(`\n${'suite'.padEnd(width)}  passed  failed  skipped`);
for (const r of rows) {
  const cells = [r.passed, r.failed].map((n) => String(n).padStart(6)).join('  ');
  console.log(
    `${r.suite.padEnd(width)}  ${cells}  ${String(r.skipped ?? 0).padStart(7)}${r.note ? `  (${r.note})` : ''}`,
  );
}
const total = (key) => rows.reduce((sum, r) => sum + (r[key] ?? 0), 0);
console.log(`time: ${Math.round((Date.now() - started) / 1000)} s`);
console.log(`${total('passed')} passed, ${total('failed')} failed, ${total('skipped')} skipped`);
process.exit(total('failed') === 0 && rows.length > 0 ? 0 : 1);
