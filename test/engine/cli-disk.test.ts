// Runs remembered across processes (issue 15): the real CLI, one process after another
// on one cache directory. A second process answers an unchanged model from the run's
// entry on disk (engine/run_entry.hpp) without exploring; a damaged entry is a miss
// that is replaced; a changed model never gets another model's answer.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import type { PublicRun } from '../../extension/cli/contract';
import { assertClose, CLI, MODEL_FIXTURES, ROOT, tempDir } from './helpers';

const TWO_LOCUS = join(MODEL_FIXTURES, 'two_locus.phasic');

function run(args: string[]): PublicRun {
  const r = spawnSync(process.execPath, [CLI, 'run', ...args, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout) as PublicRun;
}

function runEntries(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.run'));
}

describe('runs remembered across processes', () => {
  it('a second process answers an unchanged model from disk without exploring', () => {
    const dir = tempDir('cli-disk-run');
    const args = [TWO_LOCUS, '--set', 'n=3', '--moments', '2', '--cache-dir', dir];
    const first = run(args);
    assert.equal(first.reused, false);
    assert.ok(first.timings_ms.explore > 0);
    assert.equal(runEntries(dir).length, 1, 'the run wrote its entry');

    const second = run(args);
    assert.equal(second.reused, true, 'the run came from its entry on disk');
    assert.equal(second.timings_ms.explore, 0, 'nothing was explored');
    assert.equal(second.timings_ms.record, 0);
    assert.equal(second.sccs.recorded, 0);
    assert.equal(second.sccs.cached, second.sccs.blocks);
    assert.deepEqual(second.memory.blocks, [], 'no block subgraph was built');
    // The very numbers of the first process, and the reference value (expected.json).
    assert.deepEqual(second.moments, first.moments);
    assert.deepEqual(second.variance, first.variance);
    assertClose(second.moments.tmrca[0], 1.832574, 1e-6, 'E[tmrca], two-locus n = 3');
    for (const key of ['model', 'vertices', 'edges', 'absorbing', 'traceKey', 'ruleFirings', 'warnings'] as const)
      assert.deepEqual(second[key], first[key], key);
    assert.equal(second.vertices, 32);

    // Parameters are evaluation inputs, not part of the key: the entry answers any θ,
    // exactly as a process without any cache does.
    const theta = ['--param', 'rec=0.25', '--param', 'coal=2'];
    const atTheta = run([...args, ...theta]);
    assert.equal(atTheta.reused, true);
    const uncached = run([TWO_LOCUS, '--set', 'n=3', '--moments', '2', '--no-cache', ...theta]);
    assert.deepEqual(atTheta.moments, uncached.moments);
    assert.deepEqual(atTheta.variance, uncached.variance);
  });

  it('a truncated or corrupted run entry is a miss that the run replaces', () => {
    const dir = tempDir('cli-disk-damaged');
    const args = [TWO_LOCUS, '--set', 'n=3', '--cache-dir', dir];
    const first = run(args);
    const [name] = runEntries(dir);
    const entry = join(dir, name);
    const whole = readFileSync(entry);

    truncateSync(entry, Math.floor(whole.length / 2));
    const afterTruncation = run(args);
    assert.equal(afterTruncation.reused, false, 'a truncated entry is not used');
    assert.ok(afterTruncation.timings_ms.explore > 0);
    assert.deepEqual(afterTruncation.moments, first.moments);
    assert.deepEqual(readFileSync(entry), whole, 'the run wrote a whole entry over it');

    const corrupted = Buffer.from(whole);
    corrupted[corrupted.length - 100] ^= 0x01;
    writeFileSync(entry, corrupted);
    const afterCorruption = run(args);
    assert.equal(afterCorruption.reused, false, 'a corrupted entry is not used');
    assert.deepEqual(afterCorruption.moments, first.moments);
    assert.equal(statSync(entry).size, whole.length);
    assert.equal(run(args).reused, true, 'the replaced entry is used');
  });

  it('a changed model never gets the answer of another model', () => {
    const dir = tempDir('cli-disk-keys');
    const n3 = run([TWO_LOCUS, '--set', 'n=3', '--cache-dir', dir]);
    // Another constant: another model text, another entry, its own answer.
    const n4 = run([TWO_LOCUS, '--set', 'n=4', '--cache-dir', dir]);
    assert.equal(n4.reused, false);
    assert.notEqual(n4.vertices, n3.vertices);
    // A renamed reward and a changed default: labels are part of the answer.
    const source = readFileSync(TWO_LOCUS, 'utf8');
    const renamed = join(dir, 'renamed.phasic');
    writeFileSync(renamed, source.replace(/reward tmrca\b/, 'reward height'));
    const r = run([renamed, '--set', 'n=3', '--cache-dir', dir]);
    assert.equal(r.reused, false);
    assert.deepEqual(Object.keys(r.moments).includes('height'), true);
    assert.deepEqual(r.moments.height, n3.moments.tmrca);
    assert.equal(run([renamed, '--set', 'n=3', '--cache-dir', dir]).reused, true);
    const otherDefault = join(dir, 'default.phasic');
    writeFileSync(otherDefault, source.replace('param rec = 1.0', 'param rec = 2.0'));
    const d = run([otherDefault, '--set', 'n=3', '--cache-dir', dir]);
    assert.equal(d.reused, false);
    assert.equal(d.params.rec, 2);
    assert.deepEqual(d.moments, run([TWO_LOCUS, '--set', 'n=3', '--param', 'rec=2', '--no-cache']).moments);
    assert.equal(runEntries(dir).length, 4);
    const again = run([TWO_LOCUS, '--set', 'n=3', '--cache-dir', dir]);
    assert.equal(again.reused, true);
    assert.deepEqual(again.moments, n3.moments);
    assert.equal(again.moments.height, undefined);
  });

  it('every file carries the identity of the engine sources the addon was built from', () => {
    // SHA-256 over native/src, file by file in path order (path, length, contents), as
    // cache/engine_identity.hpp promises: any edit of the sources is another identity,
    // so nothing an older engine wrote is served. A stale addon fails here.
    const source = join(ROOT, 'native', 'src');
    const files = (readdirSync(source, { recursive: true }) as string[])
      .map((f) => join(source, f))
      .filter((f) => statSync(f).isFile())
      .map((f) => relative(source, f).split(sep).join('/'))
      .sort();
    const hash = createHash('sha256');
    for (const f of files) {
      const contents = readFileSync(join(source, f));
      hash.update(`${f}\0${contents.length}\0`);
      hash.update(contents);
    }
    const expected = `phasic engine; source ${hash.digest('hex').slice(0, 32)}; compiler `;
    const dir = tempDir('cli-disk-identity');
    run([TWO_LOCUS, '--set', 'n=3', '--cache-dir', dir]);
    const written = readdirSync(dir).filter((f) => /^[0-9a-f]{32}\.(trace|run)$/.test(f));
    assert.ok(written.some((f) => f.endsWith('.run')) && written.some((f) => f.endsWith('.trace')));
    for (const name of written) {
      const bytes = readFileSync(join(dir, name));
      // Header (64 bytes), payload, then the stored input: the identity, then the key's bytes.
      const storedInput = bytes.subarray(64 + Number(bytes.readBigUInt64LE(32)));
      assert.equal(storedInput.length, Number(bytes.readBigUInt64LE(40)), name);
      assert.equal(storedInput.subarray(0, expected.length).toString('latin1'), expected, name);
    }
  });
});
