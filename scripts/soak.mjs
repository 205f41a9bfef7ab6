// The long form of the soak (test/reliability/soak.test.ts): many runs of two-locus
// n = 6 in one process through the addon and through the engine process, asserting
// issue 8's 5% bound on resident memory and printing the figures.
//
//   node scripts/soak.mjs                      200 runs (addon), 200 (engine process)
//   node scripts/soak.mjs --runs 500 --server-runs 100 --verbose
//   node scripts/soak.mjs --no-build           against what is built
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './code-server.mjs';

const args = process.argv.slice(2);
function option(name, fallback) {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 10) {
    console.error(`soak: ${name} takes a whole number of at least 10 runs`);
    process.exit(2);
  }
  return value;
}
const runs = option('--runs', 200);
const serverRuns = option('--server-runs', runs);
process.chdir(repoRoot);

const step = (command, commandArgs, env = {}) => {
  const r = spawnSync(command, commandArgs, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
if (!args.includes('--no-build')) {
  step('npx', ['node-gyp', 'build', '--directory', 'native']);
  step(process.execPath, ['esbuild.mjs']);
}
step(process.execPath, ['--test', '--test-timeout=3600000', join('out', 'test', 'reliability', 'soak.test.js')], {
  PHASIC_SOAK_RUNS: String(runs),
  PHASIC_SOAK_SERVER_RUNS: String(serverRuns),
  PHASIC_SOAK_VERBOSE: args.includes('--verbose') ? '1' : '0',
});
