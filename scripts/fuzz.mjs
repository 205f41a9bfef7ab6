// Fuzzes the engine's readers with libFuzzer under AddressSanitizer and
// UndefinedBehaviorSanitizer (Debian's clang): native/fuzz/*_fuzzer.cpp, each linked
// with the whole engine library. Every run first replays native/fuzz/regressions/
// <target>/ (inputs that once crashed), then fuzzes each target for a fixed time from
// the seed corpus native/fuzz/seeds/<target>/. A crash fails the run; its input is
// kept in native/fuzz/crashes/ (turn it into a regression input once fixed).
//
//   node scripts/fuzz.mjs                       30 s per target (what CI runs)
//   node scripts/fuzz.mjs --seconds 600 cache   one target, longer
//   node scripts/fuzz.mjs --seeds               regenerate the seed corpus (needs dist/)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { repoRoot } from './code-server.mjs';
import { writeEngineSourceHeader } from './engine-source.mjs';

const args = process.argv.slice(2);
const secondsAt = args.indexOf('--seconds');
const seconds = secondsAt >= 0 ? Number(args[secondsAt + 1]) : 30;
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error('fuzz: --seconds takes a positive number');
  process.exit(2);
}
const only = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--seconds');
process.chdir(repoRoot);

const FUZZ = join('native', 'fuzz');
const OUT = join('out', 'fuzz');
const CXX = 'clang++';
const SANITIZE = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'];
// The engine's source identity (cache/engine_identity.hpp), as a generated header.
const GENERATED = join(OUT, 'generated');
const FLAGS = ['-std=c++20', '-O1', '-g', ...SANITIZE, '-Inative/src', `-I${GENERATED}`];

const targets = readdirSync(FUZZ)
  .filter((f) => f.endsWith('_fuzzer.cpp'))
  .map((f) => f.replace(/_fuzzer\.cpp$/, ''))
  .filter((t) => only.length === 0 || only.some((o) => t.includes(o)))
  .sort();

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.cpp') ? [path] : [];
  });
}
const newer = (a, b) => {
  try {
    return statSync(a).mtimeMs > statSync(b).mtimeMs;
  } catch {
    return false;
  }
};

// ---- build: the library once (two compilers at a time), then each target ----

async function build() {
  mkdirSync(join(OUT, 'obj'), { recursive: true });
  const identityHeader = join(writeEngineSourceHeader(GENERATED), 'phasic_engine_source.h');
  // An object is stale when its source or any header is newer (headers are shared).
  const headers = readdirSync('native/src', { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.hpp'));
  const newestHeader = Math.max(...headers.map((h) => statSync(join('native/src', h)).mtimeMs));
  const jobs = sources('native/src')
    .sort()
    .map((src) => {
      const obj = join(OUT, 'obj', src.replace(/[/\\]/g, '_').replace(/\.cpp$/, '.o'));
      const identityFresh = !src.endsWith('engine_identity.cpp') || newer(obj, identityHeader);
      return { src, obj, fresh: newer(obj, src) && statSync(obj).mtimeMs > newestHeader && identityFresh };
    });
  const queue = jobs.filter((j) => !j.fresh);
  const compile = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      await new Promise((resolve, reject) => {
        const child = spawn(CXX, [...FLAGS, '-fsanitize=fuzzer-no-link', '-c', job.src, '-o', job.obj], {
          stdio: 'inherit',
        });
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${CXX} failed on ${job.src}`))));
      });
    }
  };
  await Promise.all([compile(), compile()]);
  for (const target of targets) {
    const exe = join(OUT, `${target}_fuzzer`);
    execFileSync(
      CXX,
      [
        ...FLAGS,
        '-fsanitize=fuzzer',
        '-I',
        FUZZ,
        join(FUZZ, `${target}_fuzzer.cpp`),
        ...jobs.map((j) => j.obj),
        '-o',
        exe,
        '-lpthread',
      ],
      { stdio: 'inherit' },
    );
  }
}

// ---- seeds: what the examples give, through the real front end and engine ----

function generateSeeds() {
  const cli = join('dist', 'cli.js');
  if (!existsSync(cli)) throw new Error('--seeds needs dist/cli.js: run `node esbuild.mjs` first');
  const dirs = Object.fromEntries(
    ['compiled_model', 'phasic_graph', 'cache_file'].map((t) => {
      const d = join(FUZZ, 'seeds', t);
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d, { recursive: true });
      return [t, d];
    }),
  );
  // Compiled models: the engine fixtures are exactly what the compiler emits.
  const compiled = join('test', 'fixtures', 'engine');
  for (const f of readdirSync(compiled).filter((f) => f.endsWith('.json'))) {
    if (statSync(join(compiled, f)).size < 64 * 1024) copyFileSync(join(compiled, f), join(dirs.compiled_model, f));
  }
  // Phasic graphs: every example exported (small sizes, so the fuzzer mutates fast).
  const small = {
    'kingman.phasic': 'n=4',
    'kingman_sfs.phasic': 'n=4',
    'two_locus.phasic': 'n=3',
    'rabbits.phasic': 'N=4',
    'structured.phasic': '',
    'queue.phasic': '',
    'two_deme_sampling.phasic': '',
  };
  for (const [file, set] of Object.entries(small)) {
    const out = join(dirs.phasic_graph, file.replace(/\.phasic$/, '.json'));
    const r = spawnSync(
      process.execPath,
      [cli, 'export', join('examples', file), '--format', 'phasic-json', '--out', out, ...(set ? ['--set', set] : [])],
      { encoding: 'utf8' },
    );
    if (r.status !== 0 || statSync(out).size > 64 * 1024) rmSync(out, { force: true });
  }
  // Cache files: a run of small models into a fresh cache directory.
  const cache = mkdtempSync(join(tmpdir(), 'phasic-fuzz-seeds-'));
  for (const model of ['kingman_sfs.json', 'structured.json', 'rabbits.json']) {
    spawnSync(process.execPath, [cli, 'run', join(compiled, model), '--cache-dir', cache, '--min-scc', '2'], {
      stdio: 'ignore',
    });
  }
  const traces = readdirSync(cache)
    .filter((f) => f.endsWith('.trace'))
    .map((f) => join(cache, f))
    .sort((a, b) => statSync(a).size - statSync(b).size)
    .slice(0, 24);
  for (const t of traces) copyFileSync(t, join(dirs.cache_file, basename(t)));
  rmSync(cache, { recursive: true, force: true });
  for (const [t, d] of Object.entries(dirs)) console.log(`# fuzz seeds: ${t}: ${readdirSync(d).length} files`);
}

// ---- run ----

function runTarget(target) {
  const exe = join(OUT, `${target}_fuzzer`);
  const crashes = join(FUZZ, 'crashes');
  mkdirSync(crashes, { recursive: true });
  const env = {
    ...process.env,
    ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  };
  const common = [
    `-artifact_prefix=${join(crashes, `${target}-`)}`,
    '-rss_limit_mb=2048',
    '-malloc_limit_mb=1024',
    '-timeout=20',
  ];

  const regressions = join(FUZZ, 'regressions', target);
  const replay = existsSync(regressions) ? readdirSync(regressions).map((f) => join(regressions, f)) : [];
  if (replay.length > 0) {
    const r = spawnSync(exe, [...common, ...replay], { env, encoding: 'utf8' });
    if (r.status !== 0) {
      process.stderr.write(r.stderr);
      return { target, ok: false, note: `a regression input fails again (${replay.length} replayed)` };
    }
  }
  // The working corpus grows across runs in out/; the seeds stay as committed.
  const corpus = join(OUT, 'corpus', target);
  mkdirSync(corpus, { recursive: true });
  const seeds = join(FUZZ, 'seeds', target);
  const r = spawnSync(
    exe,
    [...common, `-max_total_time=${seconds}`, '-print_final_stats=1', corpus, ...(existsSync(seeds) ? [seeds] : [])],
    { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  const log = r.stderr ?? '';
  writeFileSync(join(OUT, `${target}.log`), log);
  const runs = Number(log.match(/stat::number_of_executed_units:\s*(\d+)/)?.[1] ?? 0);
  const cov = log.match(/#\d+\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/);
  const artifact = log.match(/Test unit written to (\S+)/)?.[1];
  const ok = r.status === 0;
  if (!ok) process.stderr.write(log.split('\n').slice(-60).join('\n'));
  return {
    target,
    ok,
    note: ok
      ? `${runs} inputs in ${seconds} s, coverage ${cov?.[1] ?? '?'} edges, corpus ${cov?.[3] ?? '?'}, ${replay.length} regressions replayed`
      : `crash (exit ${r.status ?? r.signal}), input saved as ${artifact ?? '(see out/fuzz/' + target + '.log)'}`,
  };
}

if (args.includes('--seeds')) generateSeeds();
if (!args.includes('--no-build')) await build();
const results = targets.map(runTarget);
for (const r of results) console.log(`# fuzz ${r.ok ? 'ok  ' : 'FAIL'} ${r.target}: ${r.note}`);
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
