// Hostile file-system input in the trace cache directory, through the real CLI
// (dist/cli.js) as a child process: what another program or a user put there must
// neither hang, nor be read into memory, nor be followed, nor be deleted, and a
// clear that could not remove everything must say so and exit non-zero.
//   - a FIFO in place of a cache entry (it once hung every run, past --timeout)
//   - a 64 GiB sparse file in place of an entry (it was read into memory)
//   - a symlink named like an entry pointing outside the directory
//   - files named close to the cache's own (.<hex>.notes.tmp, ...)
// Each both for a block's file (<key>.trace; the model's run entry is removed first, or
// the run would be answered from it without reading a block) and for the run entry
// (<key>.run) itself.
//   - a read-only cache directory (root ignores permission bits: chattr +i, or a
//     read-only bind mount)
//   - a cache path that is a regular file, or does not exist
//   - a directory its permissions keep the user from writing, as a user they stop
//     (the sessions run as root, whom they do not: there the CLI runs as nobody)
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  readdirSync,
  rmSync,
  readFileSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PublicClear, PublicRun } from '../../extension/cli/contract';
import { describeClear } from '../../extension/host/commands/describeClear';
import { parseEngineReply } from '../../extension/protocol/validate';
import { CLI, ROOT, tempDir } from './helpers';

const RABBITS = join(ROOT, 'test', 'fixtures', 'engine', 'rabbits.json');
// The rabbits model's expected time to extinction (test/fixtures/engine/README.md).
const RABBITS_ET = 0.536563856863072;
// Long enough for any healthy run on a loaded machine; a run blocked on a FIFO is
// killed at this point so that the regression fails instead of hanging the suite.
const HANG_GUARD_MS = 120_000;

// Preloaded into the CLI process: writes its peak resident set (KiB) when it exits.
const peakProbe = join(tempDir('cachefiles-probe'), 'peak.js');
writeFileSync(
  peakProbe,
  "process.on('exit', () => require('node:fs').writeFileSync(process.env.PHASIC_TEST_PEAK_FILE, String(process.resourceUsage().maxRSS)));\n",
);

interface Cli {
  status: number | null;
  stdout: string;
  stderr: string;
  peakKiB: number;
}

function cli(args: string[]): Promise<Cli> {
  const peakFile = join(tempDir('cachefiles-peak'), 'peak');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', peakProbe, CLI, ...args], {
      env: { ...process.env, PHASIC_TEST_PEAK_FILE: peakFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`phasic-trace ${args.join(' ')} did not finish in ${HANG_GUARD_MS / 1000} s (blocked?)\n${stderr}`),
      );
    }, HANG_GUARD_MS);
    child.on('close', (status) => {
      clearTimeout(guard);
      let peakKiB = NaN;
      try {
        peakKiB = Number(readFileSync(peakFile, 'utf8'));
      } catch {
        // killed before its exit handler ran
      }
      resolve({ status, stdout, stderr, peakKiB });
    });
  });
}

async function run(dir: string): Promise<PublicRun & { peakKiB: number }> {
  const r = await cli(['run', RABBITS, '--json', '--moments', '1', '--cache-dir', dir]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const result = JSON.parse(r.stdout) as PublicRun;
  const et = Number(result.moments.time_to_extinction[0]);
  assert.ok(Math.abs(et - RABBITS_ET) <= 1e-9 * RABBITS_ET, `E[T] = ${et}, expected ${RABBITS_ET}`);
  return { ...result, peakKiB: r.peakKiB };
}

async function clear(dir: string, json = true) {
  return cli(['clear-caches', '--cache-dir', dir, ...(json ? ['--json'] : [])]);
}

const traceFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /^[0-9a-f]{32}\.trace$/.test(f))
    .sort();

const runFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /^[0-9a-f]{32}\.run$/.test(f))
    .sort();

/**
 * A cache directory filled by one run of the model; its block files and the name of its
 * run entry. The run entry's key hashes the engine's build id, so it is taken from the
 * directory, where the run wrote it, not computed here.
 */
async function filledCache(prefix: string): Promise<{ dir: string; entries: string[]; runEntry: string }> {
  const dir = tempDir(prefix);
  const first = await run(dir);
  assert.ok(first.sccs.recorded > 0);
  assert.equal(first.reused, false);
  const entries = traceFiles(dir);
  assert.equal(entries.length, first.sccs.recorded, 'one file per recorded block');
  const runs = runFiles(dir);
  assert.equal(runs.length, 1, 'one run entry for the model');
  return { dir, entries, runEntry: runs[0] };
}

/** The cache's header, its key matching the name and its two lengths the file's size. */
function assertWholeEntry(dir: string, name: string): void {
  const bytes = readFileSync(join(dir, name));
  assert.ok(bytes.length >= 64, `${name}: ${bytes.length} bytes`);
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'PHTRACE\0', `${name}: magic`);
  const keyHex = Buffer.concat([bytes.subarray(16, 24).reverse(), bytes.subarray(24, 32).reverse()]).toString('hex');
  assert.equal(keyHex, name.slice(0, 32), `${name}: key in the header`);
  assert.equal(64 + Number(bytes.readBigUInt64LE(32)) + Number(bytes.readBigUInt64LE(40)), bytes.length, name);
}

describe('hostile files in the trace cache directory', () => {
  it('a FIFO in place of an entry is a miss, replaced by a whole file, and never blocks a run', async () => {
    const { dir, entries, runEntry } = await filledCache('cachefiles-fifo');
    const entry = join(dir, entries[0]);
    rmSync(join(dir, runEntry));
    execFileSync('rm', [entry]);
    execFileSync('mkfifo', [entry]);
    const second = await run(dir);
    assert.equal(second.sccs.recorded, 1, 'the block behind the FIFO is recorded again');
    assert.ok(lstatSync(entry).isFile(), 'the FIFO is replaced by a regular file');
    assert.deepEqual(second.warnings, []);
    rmSync(join(dir, runEntry));
    const third = await run(dir);
    assert.equal(third.reused, false);
    assert.equal(third.sccs.recorded, 0, 'the replacement is a sound cache file');
    // clear-caches and its pruning of stale files do not block on one either.
    execFileSync('rm', [entry]);
    execFileSync('mkfifo', [entry]);
    const cleared = await clear(dir);
    assert.equal(cleared.status, 0, cleared.stderr);
    assert.equal(
      (JSON.parse(cleared.stdout) as PublicClear).disk.files,
      entries.length - 1 + 1,
      'every block file but the FIFO, and the run entry',
    );
    assert.deepEqual(readdirSync(dir), [entries[0]], "the FIFO, not the cache's file, is left");
  });

  it('a FIFO in place of the run entry is a miss, replaced by a whole file, and never blocks a run', async () => {
    const { dir, entries, runEntry } = await filledCache('cachefiles-fifo-run');
    const entry = join(dir, runEntry);
    execFileSync('rm', [entry]);
    execFileSync('mkfifo', [entry]);
    const second = await run(dir);
    assert.equal(second.reused, false, 'the FIFO is not read as a run entry');
    assert.equal(second.sccs.recorded, 0, 'the blocks come from their files');
    assert.deepEqual(second.warnings, []);
    assert.ok(lstatSync(entry).isFile(), 'the FIFO is replaced by a regular file');
    assertWholeEntry(dir, runEntry);
    const third = await run(dir);
    assert.equal(third.reused, true, 'the replacement is a sound run entry');
    execFileSync('rm', [entry]);
    execFileSync('mkfifo', [entry]);
    const cleared = await clear(dir);
    assert.equal(cleared.status, 0, cleared.stderr);
    assert.equal((JSON.parse(cleared.stdout) as PublicClear).disk.files, entries.length);
    assert.deepEqual(readdirSync(dir), [runEntry], "the FIFO, not the cache's file, is left");
  });

  it('a 64 GiB sparse file in place of an entry is never read in', async () => {
    const { dir, entries, runEntry } = await filledCache('cachefiles-sparse');
    // The reference peak: a run that reads every block from its file.
    rmSync(join(dir, runEntry));
    const plain = await run(dir);
    assert.equal(plain.reused, false);
    const entry = join(dir, entries[0]);
    const sound = readFileSync(entry);
    // Once all zeros, once behind the entry's own sound header (its lengths no longer
    // add up to the file's size).
    for (const head of [Buffer.alloc(0), sound.subarray(0, 64)]) {
      rmSync(join(dir, runEntry));
      writeFileSync(entry, head);
      truncateSync(entry, 64 * 1024 ** 3);
      const r = await run(dir);
      assert.equal(r.sccs.recorded, 1);
      assert.equal(statSync(entry).size, sound.length, "the sparse file is replaced by the block's file");
      // A read of the file would need 64 GiB; the run's peak stays within 256 MiB of a
      // run without it.
      console.log(
        `# cachefiles: peak RSS ${Math.round(r.peakKiB / 1024)} MiB with a 64 GiB entry, ${Math.round(plain.peakKiB / 1024)} MiB without`,
      );
      assert.ok(
        r.peakKiB < plain.peakKiB + 256 * 1024,
        `peak RSS ${r.peakKiB} KiB, ${plain.peakKiB} KiB without the sparse file`,
      );
    }
  });

  it('a 64 GiB sparse file in place of the run entry is never read in', async () => {
    const { dir, runEntry } = await filledCache('cachefiles-sparse-run');
    const entry = join(dir, runEntry);
    const sound = readFileSync(entry);
    rmSync(entry);
    const plain = await run(dir);
    assert.equal(plain.reused, false);
    for (const head of [Buffer.alloc(0), sound.subarray(0, 64)]) {
      writeFileSync(entry, head);
      truncateSync(entry, 64 * 1024 ** 3);
      const r = await run(dir);
      assert.equal(r.reused, false, 'the sparse file is not taken for a run entry');
      assert.equal(r.sccs.recorded, 0, 'the blocks come from their files');
      assert.ok(statSync(entry).size < 64 * 1024 ** 2, 'the sparse file is replaced by a run entry');
      assertWholeEntry(dir, runEntry);
      console.log(
        `# cachefiles: peak RSS ${Math.round(r.peakKiB / 1024)} MiB with a 64 GiB run entry, ${Math.round(plain.peakKiB / 1024)} MiB without`,
      );
      assert.ok(
        r.peakKiB < plain.peakKiB + 256 * 1024,
        `peak RSS ${r.peakKiB} KiB, ${plain.peakKiB} KiB without the sparse file`,
      );
    }
    assert.equal((await run(dir)).reused, true, 'the replacement answers the next run');
  });

  it('a symlink named like an entry is never followed, written through or removed', async () => {
    const { dir, entries, runEntry } = await filledCache('cachefiles-link');
    rmSync(join(dir, runEntry));
    const outside = tempDir('cachefiles-outside');
    // A sound cache file for the entry, outside: following the link would hit it.
    const target = join(outside, entries[0]);
    writeFileSync(target, readFileSync(join(dir, entries[0])));
    // Whole seconds, so the time reads back exactly (a fractional one can come back as
    // …677.999 ms through the file system's nanoseconds).
    const old = new Date(Math.floor(Date.now() / 1000 - 3600) * 1000);
    utimesSync(target, old, old);
    execFileSync('rm', [join(dir, entries[0])]);
    symlinkSync(target, join(dir, entries[0]));
    // A link named like an entry the model never uses, to a user's file.
    const notes = join(outside, 'notes.txt');
    writeFileSync(notes, "a user's notes");
    const unused = join(dir, `${'0'.repeat(32)}.trace`);
    symlinkSync(notes, unused);
    const targetBefore = readFileSync(target);

    const r = await run(dir);
    assert.equal(r.sccs.recorded, 1, 'the entry behind the link is recorded again, not read through it');
    assert.ok(lstatSync(join(dir, entries[0])).isFile(), "the link itself is replaced by the block's file");
    assert.ok(lstatSync(unused).isSymbolicLink(), 'the pruning after the run leaves a link alone');
    const cleared = await clear(dir);
    assert.equal(cleared.status, 0, cleared.stderr);
    assert.equal(
      (JSON.parse(cleared.stdout) as PublicClear).disk.files,
      entries.length + 1,
      'every block file and the run entry the run wrote',
    );
    assert.deepEqual(readdirSync(dir), [`${'0'.repeat(32)}.trace`]);
    assert.ok(lstatSync(unused).isSymbolicLink(), 'clear-caches leaves a link alone');
    assert.deepEqual(readFileSync(target), targetBefore);
    assert.equal(statSync(target).mtimeMs, old.getTime(), 'the target was not even touched');
    assert.equal(readFileSync(notes, 'utf8'), "a user's notes");
  });

  it('a symlink named like a run entry is never followed, written through or removed', async () => {
    const { dir, entries, runEntry } = await filledCache('cachefiles-link-run');
    const outside = tempDir('cachefiles-outside-run');
    // A sound run entry for the model, outside: following the link would answer from it.
    const target = join(outside, runEntry);
    writeFileSync(target, readFileSync(join(dir, runEntry)));
    const old = new Date(Math.floor(Date.now() / 1000 - 3600) * 1000);
    utimesSync(target, old, old);
    rmSync(join(dir, runEntry));
    symlinkSync(target, join(dir, runEntry));
    const notes = join(outside, 'notes.txt');
    writeFileSync(notes, "a user's notes");
    const unused = join(dir, `${'0'.repeat(32)}.run`);
    symlinkSync(notes, unused);
    const targetBefore = readFileSync(target);

    const r = await run(dir);
    assert.equal(r.reused, false, 'the run is not answered through the link');
    assert.equal(r.sccs.recorded, 0, 'the blocks come from their files');
    assert.ok(lstatSync(join(dir, runEntry)).isFile(), 'the link itself is replaced by a run entry');
    assertWholeEntry(dir, runEntry);
    assert.ok(lstatSync(unused).isSymbolicLink(), 'the pruning after the run leaves a link alone');
    const cleared = await clear(dir);
    assert.equal(cleared.status, 0, cleared.stderr);
    assert.equal((JSON.parse(cleared.stdout) as PublicClear).disk.files, entries.length + 1);
    assert.deepEqual(readdirSync(dir), [`${'0'.repeat(32)}.run`]);
    assert.ok(lstatSync(unused).isSymbolicLink(), 'clear-caches leaves a link alone');
    assert.deepEqual(readFileSync(target), targetBefore);
    assert.equal(statSync(target).mtimeMs, old.getTime(), 'the target was not even touched');
    assert.equal(readFileSync(notes, 'utf8'), "a user's notes");
  });

  it('pruning and clear-caches remove only the exact names the cache writes', async () => {
    const { dir, entries, runEntry } = await filledCache('cachefiles-foreign');
    const hex = entries[0].slice(0, 32);
    const runHex = runEntry.slice(0, 32);
    const foreign = [
      `.${hex}.notes.tmp`,
      `.${hex}.1.tmp.bak`,
      `.${hex}.12.tmp`,
      `${hex}.trace.bak`,
      `.${hex}.trace`,
      `${runHex}.run.bak`,
      `.${runHex}.run`,
      `${runHex}.runs`,
      `${runHex}.RUN`,
      `.${runHex}.run.1.tmp`,
      'notes.txt',
    ];
    // Old enough to be stale if they were the cache's temporary files.
    const old = new Date(Date.now() - 3600_000);
    // A killed writer's leftovers, of a block file and of a run entry: the cache's own.
    const stale = [`.${hex}.4242.7.tmp`, `.${runHex}.4242.8.tmp`];
    for (const name of [...foreign, ...stale]) {
      writeFileSync(join(dir, name), "a user's file");
      utimesSync(join(dir, name), old, old);
    }
    // Answered from the run entry, as every later run of an unchanged model is: a stale
    // temporary file must not outlive it just because nothing was recorded.
    assert.equal((await run(dir)).reused, true);
    for (const name of stale)
      assert.ok(!readdirSync(dir).includes(name), `the pruning after a run removes a stale temporary file ${name}`);
    for (const name of foreign) assert.equal(readFileSync(join(dir, name), 'utf8'), "a user's file", name);
    // And after a run that explores again.
    rmSync(join(dir, runEntry));
    for (const name of stale) {
      writeFileSync(join(dir, name), 'half a file');
      utimesSync(join(dir, name), old, old);
    }
    assert.equal((await run(dir)).reused, false);
    for (const name of stale) assert.ok(!readdirSync(dir).includes(name), `a fresh run prunes ${name} too`);
    for (const name of foreign) assert.equal(readFileSync(join(dir, name), 'utf8'), "a user's file", name);
    for (const name of stale) {
      writeFileSync(join(dir, name), 'half a file');
      utimesSync(join(dir, name), old, old);
    }
    const cleared = await clear(dir);
    assert.equal(cleared.status, 0, cleared.stderr);
    assert.deepEqual(readdirSync(dir).sort(), [...foreign].sort());
    for (const name of foreign) assert.equal(readFileSync(join(dir, name), 'utf8'), "a user's file", name);
  });
});

/** Makes `dir` unwritable even for root; undoes it. Null where neither way works here. */
function makeReadOnly(dir: string): { how: string; undo: () => void } | null {
  try {
    execFileSync('chattr', ['+i', dir], { stdio: 'pipe' });
    return { how: 'chattr +i', undo: () => execFileSync('chattr', ['-i', dir]) };
  } catch {
    // not supported by this file system (tmpfs, overlayfs): try a bind mount
  }
  try {
    execFileSync('mount', ['--bind', dir, dir], { stdio: 'pipe' });
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', dir], { stdio: 'pipe' });
    } catch (error) {
      execFileSync('umount', [dir]);
      throw error;
    }
    return { how: 'a read-only bind mount', undo: () => execFileSync('umount', [dir]) };
  } catch {
    return null;
  }
}

describe('clear-caches that cannot clear', () => {
  it('reports a read-only directory: how many files stayed, why, and exit 1', async (t) => {
    const { dir, entries: all, runEntry } = await filledCache('cachefiles-readonly');
    // One entry gone, and the run entry, so that a run there has a block to write.
    execFileSync('rm', [join(dir, all[0]), join(dir, runEntry)]);
    const entries = all.slice(1);
    const readOnly = makeReadOnly(dir);
    if (!readOnly) return t.skip('neither chattr +i nor a read-only bind mount works here');
    try {
      const json = await clear(dir);
      assert.equal(json.status, 1, json.stderr);
      // The CLI prints the public names (extension/cli/contract.ts); the host gets the
      // protocol's. The same figures, checked by the host's own parser.
      const printed = JSON.parse(json.stdout) as PublicClear;
      const result = parseEngineReply('phasic/clearCaches', {
        freedBytes: printed.freed_bytes,
        traces: printed.traces,
        subgraphs: printed.subgraphs,
        disk: printed.disk,
        rssBefore: printed.rss_before,
        rssAfter: printed.rss_after,
        timeMs: printed.time_ms,
      });
      assert.ok(result.ok, !result.ok ? result.error : '');
      const disk = result.value.disk;
      assert.equal(disk.files, 0);
      assert.equal(disk.failed, entries.length);
      assert.match(
        disk.error ?? '',
        new RegExp(`^cannot remove ${dir}/[0-9a-f]{32}\\.trace: (Operation not permitted|Read-only file system)$`),
      );

      const text = await clear(dir, false);
      assert.equal(text.status, 1);
      assert.equal(text.stdout, '', 'a failed clear claims no result');
      assert.match(
        text.stderr,
        new RegExp(
          `^phasic-trace: the cache was not cleared: ${entries.length} cache files could not be removed: cannot remove `,
        ),
      );
      assert.deepEqual(traceFiles(dir), entries, 'nothing was removed');
      // The host's notification says the same, never "Freed … on disk" alone.
      assert.match(
        describeClear(result.value),
        new RegExp(`\\. The disk cache was not cleared: ${entries.length} files could not be removed: cannot remove `),
      );

      // A run there still completes, in memory, with one warning.
      const r = await run(dir);
      assert.equal(r.sccs.recorded, 1);
      assert.equal(r.warnings.length, 1, JSON.stringify(r.warnings));
      assert.match(
        r.warnings[0].message,
        /cannot be written \((Operation not permitted|Read-only file system)\); traces are kept in memory only/,
      );
      console.log(`# cachefiles: read-only by ${readOnly.how}: ${disk.error}`);
    } finally {
      readOnly.undo();
    }
  });

  it('reports a cache path that is a regular file in words, and exit 1', async () => {
    const file = join(tempDir('cachefiles-file'), 'cache');
    writeFileSync(file, 'not a directory');
    for (const path of [file, join(file, 'sub')]) {
      const text = await clear(path, false);
      assert.equal(text.status, 1);
      // It printed "removed 0 cache files" on stdout beside the error.
      assert.equal(text.stdout, '');
      assert.equal(
        text.stderr,
        `phasic-trace: the cache was not cleared: cannot read the cache directory ${path}: Not a directory\n`,
      );
      assert.doesNotMatch(text.stderr, /EEXIST|ENOTDIR/);
      const json = await clear(path);
      assert.equal(json.status, 1);
      const disk = (JSON.parse(json.stdout) as PublicClear).disk;
      assert.deepEqual(disk, {
        files: 0,
        bytes: 0,
        failed: 0,
        error: `cannot read the cache directory ${path}: Not a directory`,
      });
    }
    const r = await run(file);
    assert.match(r.warnings[0]?.message ?? '', /cannot be written \(Not a directory\)/);
    assert.equal(readFileSync(file, 'utf8'), 'not a directory');
  });

  it('clears a directory that does not exist without creating it', async () => {
    const dir = join(tempDir('cachefiles-missing'), 'none');
    const r = await clear(dir, false);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `removed 0 cache files (0 bytes) from ${dir}\n`);
    assert.throws(() => statSync(dir), /ENOENT/);
  });
});

/**
 * The CLI as a user whom permission bits stop: as itself unless it is root, else as
 * nobody (uid 65534) through setpriv. Null where neither can run the CLI here.
 */
function asUnprivileged(): ((args: string[]) => Cli) | null {
  const root = process.getuid?.() === 0;
  const command = root ? 'setpriv' : process.execPath;
  const prefix = root ? ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath] : [];
  const cliAs = (args: string[]): Cli => {
    const r = spawnSync(command, [...prefix, CLI, ...args], { encoding: 'utf8', timeout: HANG_GUARD_MS });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', peakKiB: NaN };
  };
  const probe = cliAs(['--help']);
  return probe.status === 0 ? cliAs : null;
}

describe('a cache directory its permissions keep the user from writing', () => {
  const rabbitsEt = (r: PublicRun) => Number(r.moments.time_to_extinction[0]);
  const WARNING =
    /^the trace cache directory .* cannot be written \(Permission denied\); traces are kept in memory only$/;

  it('a run there answers, caches nothing and says so once; one filled before is read, not written', (t) => {
    const cliAs = asUnprivileged();
    if (!cliAs) return t.skip('no unprivileged user can run the CLI here');
    const dir = tempDir('cachefiles-perm');
    chmodSync(dir, 0o555);
    const runAs = (cacheDir: string, json = true) =>
      cliAs(['run', RABBITS, '--moments', '1', '--cache-dir', cacheDir, ...(json ? ['--json'] : [])]);

    const r = runAs(dir);
    assert.equal(r.status, 0, r.stderr);
    const run = JSON.parse(r.stdout) as PublicRun;
    assert.ok(Math.abs(rabbitsEt(run) - RABBITS_ET) <= 1e-9 * RABBITS_ET, `E[T] = ${rabbitsEt(run)}`);
    assert.equal(
      run.warnings.length,
      1,
      `one warning, however many blocks were not written: ${JSON.stringify(run.warnings)}`,
    );
    assert.match(run.warnings[0].message, WARNING);
    assert.deepEqual(readdirSync(dir), [], 'nothing was written');
    const text = runAs(dir, false);
    assert.equal(text.status, 0, text.stderr);
    assert.equal(text.stdout.split('\n').filter((l) => l.startsWith('warning: ')).length, 1, text.stdout);
    assert.match(text.stdout, /\nwarning: the trace cache directory .* cannot be written \(Permission denied\)/);

    // A cache directory to be made inside one the user may not write.
    const inside = join(dir, 'sub', 'cache');
    const nested = runAs(inside);
    assert.equal(nested.status, 0, nested.stderr);
    assert.match((JSON.parse(nested.stdout) as PublicRun).warnings[0]?.message ?? '', WARNING);
    assert.deepEqual(readdirSync(dir), [], 'no directory was made');

    // Filled by a user who may write it, then read by one who may not.
    chmodSync(dir, 0o755);
    assert.equal(runAsSelf(dir).reused, false);
    chmodSync(dir, 0o555);
    const before = readdirSync(dir)
      .sort()
      .map((f) => [f, statSync(join(dir, f)).size, statSync(join(dir, f)).mtimeMs]);
    const again = runAs(dir);
    assert.equal(again.status, 0, again.stderr);
    const reused = JSON.parse(again.stdout) as PublicRun;
    assert.equal(reused.reused, true, 'answered from the entry on disk');
    assert.equal(rabbitsEt(reused), rabbitsEt(run), 'the same E[T], bit for bit');
    assert.deepEqual(reused.warnings, [], 'nothing needed writing');
    const after = readdirSync(dir)
      .sort()
      .map((f) => [f, statSync(join(dir, f)).size, statSync(join(dir, f)).mtimeMs]);
    assert.deepEqual(after, before, 'nothing was changed');

    // Clearing it fails, says why, and removes nothing.
    const clear = cliAs(['clear-caches', '--cache-dir', dir]);
    assert.equal(clear.status, 1);
    assert.equal(clear.stdout, '');
    assert.match(
      clear.stderr,
      /^phasic-trace: the cache was not cleared: \d+ cache files could not be removed: cannot remove .*: Permission denied/,
    );
    assert.deepEqual(
      readdirSync(dir).sort(),
      before.map(([f]) => f),
    );
    chmodSync(dir, 0o755);
  });
});

/** A run by this process's own user, who may write `dir`. */
function runAsSelf(dir: string): PublicRun {
  const r = spawnSync(process.execPath, [CLI, 'run', RABBITS, '--moments', '1', '--json', '--cache-dir', dir], {
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as PublicRun;
}
