// Builds the benchmark binary out/bench/engine_bench from bench/engine_bench.cpp and
// every engine source (native/src/**/*.cpp), with the addon's optimisation flags
// (-O3, no -march) so the numbers are the ones the extension gets. Make-like: an
// object is rebuilt only when its source or a header it includes (from g++ -MMD) is
// newer, and the binary only when an object is.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeEngineSourceHeader } from '../scripts/engine-source.mjs';

const OUT = join('out', 'bench');
const OBJ = join(OUT, 'obj');
export const BINARY = join(OUT, 'engine_bench');
// The engine's source identity (cache/engine_identity.hpp) comes as a generated
// header, rewritten only when native/src changed (-MMD then recompiles its one reader).
const GENERATED = join(OUT, 'generated');
const FLAGS = ['-std=c++20', '-O3', '-Inative/src', `-I${GENERATED}`];
const LIBS = ['-lklu', '-lbtf', '-lumfpack', '-lamd', '-lcolamd', '-lcholmod', '-lsuitesparseconfig', '-lpthread'];

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.cpp') ? [path] : [];
  });
}

const mtime = (path) => (existsSync(path) ? statSync(path).mtimeMs : -Infinity);

// The inputs g++ recorded for an object: its source and every header it included.
function dependencies(depFile) {
  if (!existsSync(depFile)) return null;
  const text = readFileSync(depFile, 'utf8').replace(/\\\r?\n/g, ' ');
  const colon = text.indexOf(': ');
  return text
    .slice(colon + 2)
    .split(/\s+/)
    .filter(Boolean);
}

function fresh(target, inputs) {
  const built = mtime(target);
  return inputs?.every((input) => mtime(input) < built) ?? false;
}

function compile(src, obj) {
  const dep = obj.replace(/\.o$/, '.d');
  if (fresh(obj, dependencies(dep))) return false;
  console.error(`bench: compiling ${src}`);
  execFileSync('g++', [...FLAGS, '-MMD', '-MF', dep, '-c', src, '-o', obj], { stdio: 'inherit' });
  return true;
}

export function buildBench() {
  for (const header of ['/usr/include/suitesparse/umfpack.h', '/usr/include/suitesparse/klu.h'])
    if (!existsSync(header))
      throw new Error(
        `${header} is missing: the benchmark's sparse solvers need SuiteSparse (Debian/Ubuntu: apt-get install libsuitesparse-dev)`,
      );
  mkdirSync(OBJ, { recursive: true });
  writeEngineSourceHeader(GENERATED);
  const objects = [];
  for (const src of [...sources('native/src').sort(), 'bench/engine_bench.cpp']) {
    const obj = join(OBJ, src.replace(/[/\\]/g, '_').replace(/\.cpp$/, '.o'));
    compile(src, obj);
    objects.push(obj);
  }
  if (!fresh(BINARY, objects)) {
    console.error(`bench: linking ${BINARY}`);
    execFileSync('g++', [...FLAGS, ...objects, '-o', BINARY, ...LIBS], { stdio: 'inherit' });
  }
  return BINARY;
}
