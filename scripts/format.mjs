// `npm run format` formats the TypeScript and JavaScript (Biome, biome.json) and the
// C++ (clang-format, .clang-format) in place; `npm run format:check` (`--check`)
// changes nothing and lists the files that are not formatted. Both end with one line
// "N passed, N failed": files already formatted, files that are not (or, when
// writing, that were changed). Exit status 1 when a file is not formatted in --check
// mode, or when a formatter could not run.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './code-server.mjs';

const check = process.argv.includes('--check');
process.chdir(repoRoot);

// The engine's C++: the library, the binding, the tests, the fuzzers, the benchmarks.
const CPP_ROOTS = ['native/src', 'native/binding', 'native/test', 'native/fuzz', 'bench'];
const CPP = /\.(cpp|hpp|h|cc)$/;

function cppFiles() {
  const files = [];
  for (const root of CPP_ROOTS.filter((r) => existsSync(r))) {
    // bench/ holds only top-level programs; the others are walked whole.
    const names = root === 'bench' ? readdirSync(root) : readdirSync(root, { recursive: true });
    for (const name of names.map(String)) {
      const path = join(root, name);
      if (CPP.test(name) && statSync(path).isFile()) files.push(path);
    }
  }
  return files.sort();
}

let passed = 0;
let failed = 0;
let broken = false;

// Biome: the files of biome.json's `files.includes` (ignored files skipped through git).
const biome = spawnSync(
  process.execPath,
  [
    join('node_modules', '@biomejs', 'biome', 'bin', 'biome'),
    'format',
    '--reporter=json',
    '--max-diagnostics=none',
    ...(check ? [] : ['--write']),
  ],
  { encoding: 'utf8', maxBuffer: 256 << 20 },
);
let report;
try {
  report = JSON.parse(biome.stdout);
} catch {
  console.error(`biome format gave no report (exit ${biome.status}):\n${biome.stderr}`);
  broken = true;
}
if (report) {
  const unformatted = [
    ...new Set(report.diagnostics.filter((d) => d.category === 'format').map((d) => d.location.path)),
  ];
  const other = report.diagnostics.filter((d) => d.category !== 'format');
  for (const d of other) console.error(`biome: ${d.location?.path ?? ''} ${d.category}: ${d.description}`);
  if (other.some((d) => d.severity === 'error' || d.severity === 'fatal')) broken = true;
  const changed = check ? unformatted.length : report.summary.changed;
  for (const file of unformatted) console.log(`${check ? 'not formatted' : 'formatted'}: ${file}`);
  passed += report.summary.unchanged + report.summary.changed - changed;
  failed += changed;
}

// clang-format over all files in one process: --dry-run -Werror names each file that
// would change ("FILE:LINE:COL: error: code should be clang-formatted"); writing
// compares each file's text before and after.
const files = cppFiles();
const before = new Map(check ? [] : files.map((f) => [f, readFileSync(f, 'utf8')]));
const clang = spawnSync('clang-format', check ? ['--dry-run', '-Werror', ...files] : ['-i', ...files], {
  encoding: 'utf8',
  maxBuffer: 256 << 20,
});
const violations = new Set(
  [...(clang.stderr ?? '').matchAll(/^(.+?):\d+:\d+: (?:error|warning): code should be clang-formatted/gm)].map(
    (m) => m[1],
  ),
);
if (clang.error || (clang.status !== 0 && violations.size === 0)) {
  console.error(`clang-format: ${clang.error?.message ?? clang.stderr}`);
  broken = true;
} else {
  for (const file of files) {
    const changed = check ? violations.has(file) : readFileSync(file, 'utf8') !== before.get(file);
    if (changed) console.log(`${check ? 'not formatted' : 'formatted'}: ${file}`);
    if (changed) failed++;
    else passed++;
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(broken || (check && failed > 0) ? 1 : 0);
