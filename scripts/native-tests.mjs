// Builds and runs the engine's C++ tests (native/test/*_test.cpp), each linked with
// the whole engine library (native/src), without Node. `--sanitize` builds them with
// AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer; `--thread-sanitize`
// builds the tests whose engine code runs on two threads (exploration, and the runs
// of the cache tests) with ThreadSanitizer. Any report fails.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeEngineSourceHeader } from './engine-source.mjs';

const sanitize = process.argv.includes('--sanitize');
const threads = process.argv.includes('--thread-sanitize');
const THREADED_TESTS = ['explore_test.cpp', 'cache_test.cpp'];
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.cpp') ? [path] : [];
  });
}

const out = join('out', threads ? 'native-tests-tsan' : sanitize ? 'native-tests-sanitized' : 'native-tests');
mkdirSync(out, { recursive: true });
const flags = threads
  ? ['-O1', '-g', '-fsanitize=thread']
  : sanitize
    ? ['-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer']
    : ['-O2', '-g'];
const label = threads ? ' (ThreadSanitizer)' : sanitize ? ' (sanitized)' : '';

// An object is fresh when it is newer than its source and every header it included,
// as the compiler listed them in its dependency file (-MMD).
function fresh(obj) {
  try {
    const built = statSync(obj).mtimeMs;
    const deps = readFileSync(obj.replace(/\.o$/, '.d'), 'utf8')
      .replace(/\\\n/g, ' ')
      .split(':')
      .slice(1)
      .join(':')
      .split(/\s+/)
      .filter(Boolean);
    return deps.every((dep) => statSync(dep).mtimeMs < built);
  } catch {
    return false;
  }
}

// The library is compiled once into objects, then linked into each test. The engine's
// source identity (cache/engine_identity.hpp) is a generated header, rewritten only
// when native/src changed, so -MMD's dependency recompiles the one file that reads it.
const generated = writeEngineSourceHeader(join(out, 'generated'));
const objects = [];
for (const src of sources('native/src').sort()) {
  const obj = join(out, src.replace(/[/\\]/g, '_').replace(/\.cpp$/, '.o'));
  if (!fresh(obj))
    execFileSync('g++', ['-std=c++20', ...flags, '-MMD', '-Inative/src', `-I${generated}`, '-c', src, '-o', obj], {
      stdio: 'inherit',
    });
  objects.push(obj);
}

// Every example, compiled by the real front end (the benchmark's compiler bundle), for
// the tests that compare exploration strategies on them (binding_guards_test.cpp).
const examples = join(out, 'examples');
mkdirSync(examples, { recursive: true });
const compiler = join('out', 'bench', 'compile.js');
if (!existsSync(compiler)) execFileSync(process.execPath, ['esbuild.mjs'], { stdio: 'inherit' });
for (const file of readdirSync('examples').filter((f) => f.endsWith('.phasic'))) {
  const target = join(examples, file.replace(/\.phasic$/, '.json'));
  execFileSync(process.execPath, [compiler, join('examples', file), target], { stdio: 'inherit' });
}

let failed = 0;
const tests = readdirSync('native/test')
  .filter((f) => f.endsWith('_test.cpp'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .filter((f) => !threads || THREADED_TESTS.includes(f))
  .sort();
for (const test of tests) {
  const exe = join(out, test.replace(/\.cpp$/, ''));
  execFileSync(
    'g++',
    [
      '-std=c++20',
      ...flags,
      '-Inative/src',
      '-Inative/test',
      join('native/test', test),
      ...objects,
      '-o',
      exe,
      '-lpthread',
    ],
    { stdio: 'inherit' },
  );
  console.log(`# ${test}${label}`);
  const run = spawnSync(exe, {
    stdio: 'inherit',
    env: {
      ...process.env,
      ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1',
      UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
      TSAN_OPTIONS: 'halt_on_error=1:exitcode=66',
      PHASIC_EXAMPLE_MODELS: examples,
    },
  });
  if (run.status !== 0) {
    failed++;
    console.log(`# ${test} failed (exit ${run.status ?? run.signal})`);
  }
}
console.log(`# native: ${tests.length - failed} of ${tests.length} test programs passed`);
process.exit(failed === 0 ? 0 : 1);
