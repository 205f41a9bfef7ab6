// What the phasic-trace command line writes and how it ends (dist/cli.js as a child
// process): outputs of several MB arrive whole through a pipe with a slow reader, into
// a file and onto a terminal; a reader that goes away ends it quietly; `export --out`
// writes the whole file or leaves the old one; names and messages cannot drive the
// terminal; runs have a memory budget and a state limit that cannot be switched off;
// --timeout takes any length; --repeat keeps only what it prints.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunResult } from '../../extension/protocol/engine';
import { assertClose, CLI, ENGINE_FIXTURES, tempDir } from './helpers';

interface Exit {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const dir = tempDir('cli-output');

/** A chain 0..n of one rule: n + 1 states and the starting vertex, n edges to export. */
function chainModel(name: string, n: number): string {
  const file = join(dir, `${name}.phasic`);
  writeFileSync(
    file,
    `model ${name}\nstate x in 0..${n} = 0\nrule step\n  when x < ${n}\n  rate 1\n  do x += 1\nreward steps = 1\n`,
  );
  return file;
}

/**
 * One exponential(1) sojourn with 500 rewards r[i] = i: E[r[i]^m] = i^m m!, and with
 * 16 moments a run prints about 150 KB.
 */
function manyRewardsModel(): string {
  const file = join(dir, 'many_rewards.phasic');
  writeFileSync(
    file,
    'model many_rewards\nstate k in 0..1 = 1\nrule leave\n  when k >= 1\n  rate 1\n  do k -= 1\nreward r[i in 0..499] = i\n',
  );
  return file;
}

function factorial(m: number): number {
  return m <= 1 ? 1 : m * factorial(m - 1);
}

/**
 * 1000 unused constants with 245-character names (a name has at most 256, decision 79):
 * about 0.3 MB of diagnostics, five times a pipe's buffer.
 */
function manyWarningsModel(): string {
  const file = join(dir, 'many_warnings.phasic');
  const consts = Array.from({ length: 1000 }, (_, i) => `const c${i}_${'x'.repeat(240)} = 1`);
  writeFileSync(
    file,
    [
      'model many_warnings',
      ...consts,
      'state k in 0..1 = 1',
      'rule r',
      '  when k >= 1',
      '  rate 1',
      '  do k -= 1',
      '',
    ].join('\n'),
  );
  return file;
}

function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve) => {
    if (!stream) return resolve('');
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve(text));
  });
}

function exited(child: ReturnType<typeof spawn>): Promise<{ status: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on('close', (status, signal) => resolve({ status, signal })));
}

/** The CLI writing into a pipe whose reader takes one chunk per turn of its event loop. */
async function throughSlowPipe(args: string[]): Promise<Exit> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    child.stdout!.pause();
    setImmediate(() => child.stdout!.resume());
  });
  const stderr = collect(child.stderr);
  const end = await exited(child);
  return { ...end, stdout: Buffer.concat(chunks).toString('utf8'), stderr: await stderr };
}

/** The CLI with its stdout redirected to a file. */
async function intoFile(args: string[]): Promise<Exit> {
  const file = join(tempDir('cli-output-file'), 'out');
  const fd = openSync(file, 'w');
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  const stderr = collect(child.stderr);
  const end = await exited(child);
  return { ...end, stdout: readFileSync(file, 'utf8'), stderr: await stderr };
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0;

/** The CLI on a terminal: `script` runs it on a pseudo-terminal and copies what it shows. */
async function onTerminal(args: string[]): Promise<Exit> {
  const command = [process.execPath, CLI, ...args].map(shellQuote).join(' ');
  // -e: script exits with the CLI's status. stdout and stderr share the terminal.
  const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const [stdout, stderr, end] = await Promise.all([collect(child.stdout), collect(child.stderr), exited(child)]);
  // The terminal shows each newline as CR LF.
  return { ...end, stdout: stdout.replace(/\r\n/g, '\n'), stderr };
}

const WAYS = [
  { name: 'a pipe with a slow reader', write: throughSlowPipe },
  { name: 'a file', write: intoFile },
  { name: 'a terminal', write: onTerminal, skip: HAS_SCRIPT ? false : 'util-linux script is not installed' },
];

describe('phasic-trace writes all of a large output', () => {
  const CHAIN = 200_000;
  let chain: string;
  let warnings: string;
  let rewards: string;
  before(() => {
    chain = chainModel('long_chain', CHAIN);
    warnings = manyWarningsModel();
    rewards = manyRewardsModel();
  });

  // Each case: the arguments, and what the whole output must be.
  const cases = [
    {
      name: 'export (4 MB of JSON)',
      args: () => ['export', chain, '--format', 'phasic-json'],
      verify: (out: string) => {
        const graph = JSON.parse(out) as { n_vertices: number; edges: unknown[] };
        assert.equal(graph.n_vertices, CHAIN + 2);
        assert.equal(graph.edges.length, CHAIN);
      },
    },
    {
      name: 'check --json (0.3 MB)',
      args: () => ['check', warnings, '--json'],
      verify: (out: string) => {
        const { diagnostics } = JSON.parse(out) as { diagnostics: Array<{ line: number; message: string }> };
        assert.equal(diagnostics.length, 1000);
        assert.equal(diagnostics[999].line, 1001);
        assert.match(diagnostics[999].message, /c999_x{240}\b/);
      },
    },
    {
      name: 'check (0.3 MB of lines)',
      args: () => ['check', warnings],
      verify: (out: string) => {
        const lines = out.split('\n');
        assert.equal(lines.pop(), '', 'the output ends with a newline');
        assert.equal(lines.length, 1000);
        assert.ok(lines[999].startsWith(`${warnings}:1001:7: warning: `), lines[999].slice(0, 200));
      },
    },
    {
      name: 'run --json --repeat 20 (3 MB)',
      args: () => ['run', rewards, '--json', '--no-cache', '--moments', '16', '--repeat', '20'],
      verify: (out: string) => {
        const { runs } = JSON.parse(out) as { runs: Array<Omit<RunResult, 'decomposition'>> };
        assert.equal(runs.length, 20);
        for (const r of runs) {
          assert.equal(Object.keys(r.moments).length, 501);
          for (const i of [1, 7, 499])
            assertClose(r.moments[`r[${i}]`][15], i ** 16 * factorial(16), 1e-12, `E[r[${i}]^16]`);
        }
      },
    },
    {
      name: 'run --repeat 20 (3 MB of text)',
      args: () => ['run', rewards, '--no-cache', '--moments', '16', '--repeat', '20'],
      verify: (out: string) => {
        assert.equal(out.match(/^run \d+$/gm)?.length, 20);
        assert.match(out, /^run 20$/m);
        const last = out.slice(out.lastIndexOf('run 20\n'));
        const r499 = /^r\[499\]: E\[R\^1\]=(\S+) /m.exec(last);
        assert.ok(r499, 'the last run is printed whole');
        assertClose(Number(r499[1]), 499, 1e-12, 'E[r[499]]');
        assert.match(last, /^memory: /m);
      },
    },
  ];

  for (const way of WAYS) {
    for (const c of cases) {
      it(`${c.name} into ${way.name}`, { skip: way.skip }, async () => {
        const r = await way.write(c.args());
        assert.deepEqual([r.status, r.signal], [0, null], r.stderr);
        c.verify(r.stdout);
      });
    }
  }
});

describe('phasic-trace and a reader that goes away', () => {
  it('exits quietly with status 141 (as after SIGPIPE), never a stack trace', async () => {
    const chain = chainModel('closed_chain', 100_000);
    for (const args of [
      ['export', chain, '--format', 'phasic-json'],
      ['run', join(ENGINE_FIXTURES, 'two_locus.json'), '--json', '--no-cache', '--repeat', '5000'],
      ['run', join(ENGINE_FIXTURES, 'two_locus.json'), '--no-cache', '--repeat', '5000'],
    ]) {
      // `| head -c 10`: the reader takes the first chunk and closes the pipe. Node's
      // child pipes are socket pairs whose buffers hold a few hundred KB, so each
      // output is megabytes (2.5–4 MB): a smaller one can be written whole before
      // the reader closes, and then 0 is the right status.
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.once('data', () => child.stdout!.destroy());
      const stderr = collect(child.stderr);
      const end = await exited(child);
      assert.deepEqual(end, { status: 141, signal: null }, args.join(' '));
      assert.equal(await stderr, '', args.join(' '));
    }
  });
});

describe('phasic-trace and a failing output', () => {
  it('says a write error (a full disk) and exits 1, never 0 with the output lost', {
    skip: existsSync('/dev/full') ? false : 'no /dev/full',
  }, () => {
    const chain = chainModel('full_disk_chain', 20_000);
    const fd = openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [CLI, 'export', chain, '--format', 'phasic-json'], {
        stdio: ['ignore', fd, 'pipe'],
        encoding: 'utf8',
      });
      assert.deepEqual([r.status, r.signal], [1, null], r.stderr);
      assert.equal(r.stderr, 'phasic-trace: cannot write output: ENOSPC\n');
    } finally {
      closeSync(fd);
    }
  });
});

describe('phasic-trace export --out', () => {
  it('leaves the previous file and no temporary file when the write fails half way', () => {
    const chain = chainModel('big_export', 200_000);
    const outDir = tempDir('cli-export-fail');
    const out = join(outDir, 'graph.json');
    writeFileSync(out, 'the previous export\n');
    // A file size limit of 64 blocks: the 4 MB export fails with EFBIG part way
    // (Node ignores SIGXFSZ, so the write returns the error).
    const r = spawnSync(
      'sh',
      [
        '-c',
        'ulimit -f 64 && exec "$@"',
        'sh',
        process.execPath,
        CLI,
        'export',
        chain,
        '--format',
        'phasic-json',
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot write ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*\\(EFBIG\\)`));
    assert.equal(readFileSync(out, 'utf8'), 'the previous export\n');
    assert.deepEqual(readdirSync(outDir), ['graph.json']);

    const whole = spawnSync(process.execPath, [CLI, 'export', chain, '--format', 'phasic-json', '--out', out], {
      encoding: 'utf8',
    });
    assert.equal(whole.status, 0, whole.stderr);
    assert.equal((JSON.parse(readFileSync(out, 'utf8')) as { n_vertices: number }).n_vertices, 200_002);
    assert.deepEqual(readdirSync(outDir), ['graph.json']);
  });
});

describe('phasic-trace export --out onto what is not a regular file', () => {
  const kingman = join(ENGINE_FIXTURES, 'kingman.json');
  const exported = (text: string) => (JSON.parse(text) as { n_vertices: number }).n_vertices;

  it('writes into a pipe named by a path, as `--out /dev/stdout` or `>(gzip)` name one', () => {
    // Renaming over the path replaced the link /dev/stdout itself with a regular file
    // (as root) and the export never reached the pipe; /dev/fd/1 (what a process
    // substitution names) failed instead. The test names /dev/fd/1, where the old way
    // fails without touching /dev.
    const r = spawnSync(
      'sh',
      [
        '-c',
        '"$@" | cat',
        'sh',
        process.execPath,
        CLI,
        'export',
        kingman,
        '--format',
        'phasic-json',
        '--out',
        '/dev/fd/1',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(exported(r.stdout), 5);
  });

  it('writes into a FIFO that a reader holds, which stays a FIFO', () => {
    const outDir = tempDir('cli-export-fifo');
    const fifo = join(outDir, 'graph.pipe');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const r = spawnSync(
      'sh',
      [
        '-c',
        'cat "$1" & "$2" "$3" export "$4" --format phasic-json --out "$1"; wait',
        'sh',
        fifo,
        process.execPath,
        CLI,
        kingman,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(exported(r.stdout), 5);
    assert.ok(lstatSync(fifo).isFIFO());
    assert.deepEqual(readdirSync(outDir), ['graph.pipe']);
  });

  it('replaces the file a symbolic link names, keeping the link', () => {
    const outDir = tempDir('cli-export-link');
    const target = join(outDir, 'graph.json');
    const link = join(outDir, 'latest.json');
    writeFileSync(target, 'the previous export\n');
    symlinkSync('graph.json', link);
    const r = spawnSync(process.execPath, [CLI, 'export', kingman, '--format', 'phasic-json', '--out', link], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(exported(readFileSync(target, 'utf8')), 5);
    assert.deepEqual(readdirSync(outDir).sort(), ['graph.json', 'latest.json']);
  });

  it('refuses a directory, in words', () => {
    const outDir = tempDir('cli-export-dir');
    const r = spawnSync(process.execPath, [CLI, 'export', kingman, '--format', 'phasic-json', '--out', outDir], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /cannot write .*: it is a directory, not a regular file \(EISDIR\)/);
  });
});

describe('phasic-trace on a terminal', () => {
  // C0 controls, DEL and C1 controls (as UTF-8): none may reach the terminal raw.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's job
  const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

  it('escapes control characters in model, parameter and reward names', () => {
    const model = JSON.parse(readFileSync(join(ENGINE_FIXTURES, 'kingman.json'), 'utf8'));
    model.name = 'king\u001b]0;pwned\u0007man\u009b2J';
    model.params[0].name = 'th\u001b[31meta';
    model.rewards[1].name = 'tm\u007frca\u0085';
    const file = join(dir, 'hostile_names.json');
    writeFileSync(file, JSON.stringify(model));
    const r = spawnSync(process.execPath, [CLI, 'run', file, '--no-cache'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, RAW_CONTROL);
    assert.match(r.stdout, /^king\\x1b\]0;pwned\\x07man\\x9b2J: 5 vertices/);
    assert.match(r.stdout, /^params: th\\x1b\[31meta=1$/m);
    // Kingman n = 4: E[T_MRCA] = 2 (1 - 1/4).
    const tmrca = /^tm\\x7frca\\x85: E\[R\^1\]=(\S+) /m.exec(r.stdout);
    assert.ok(tmrca, r.stdout);
    assertClose(Number(tmrca[1]), 1.5, 1e-12, 'E[T_MRCA]');

    // JSON escapes C0 itself; DEL and C1 are escaped too, and the names are unchanged.
    const json = spawnSync(process.execPath, [CLI, 'run', file, '--no-cache', '--json'], { encoding: 'utf8' });
    assert.equal(json.status, 0, json.stderr);
    assert.doesNotMatch(json.stdout, RAW_CONTROL);
    const record = JSON.parse(json.stdout) as RunResult;
    assert.equal(record.model, model.name);
    assert.deepEqual(Object.keys(record.moments), ['time', 'tm\u007frca\u0085', 'total_length']);
  });

  it('escapes control characters in paths, messages and usage errors', () => {
    const hostileDir = tempDir('cli-hostile');
    const file = join(hostileDir, 'w\u001b[2Jarn\u009b.phasic');
    writeFileSync(file, 'model m\nconst unused = 3\nstate k = 1\nrule r\n  when k >= 1\n  rate 1\n  do k -= 1\n');
    const check = spawnSync(process.execPath, [CLI, 'check', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.doesNotMatch(check.stdout, RAW_CONTROL);
    assert.ok(check.stdout.startsWith(`${hostileDir}/w\\x1b[2Jarn\\x9b.phasic:2:`), check.stdout);

    const missing = join(hostileDir, 'gone\u001b]0;title\u0007.phasic');
    for (const args of [
      ['run', missing],
      ['export', missing, '--format', 'phasic-json'],
      ['run', file, '--\u001b[2J'],
      ['run', file, '--set', 'n\u001b[2J=1'],
    ]) {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
      assert.ok(r.status === 1 || r.status === 2, `${JSON.stringify(args)}: ${r.status}`);
      assert.match(r.stderr, /^phasic-trace: /);
      assert.doesNotMatch(r.stderr, RAW_CONTROL, JSON.stringify(r.stderr));
      assert.match(r.stderr, /\\x1b/);
    }
  });
});

describe('phasic-trace limits', () => {
  // A birth process: one rule, no upper bound in reach; the state space is as large
  // as the memory it is given.
  const births = () => {
    const file = join(dir, 'births.phasic');
    writeFileSync(file, 'model births\nstate n in 0..2000000000 = 1\nrule birth\n  rate 1\n  do n += 1\n');
    return file;
  };

  it('stops an unbounded model at the memory budget, exit 1, not killed by the OS', () => {
    // --timeout only keeps a regression from hanging the suite; the budget stops the
    // run after about 16 MB of states.
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'run',
        births(),
        '--no-cache',
        '--max-states',
        '2000000000',
        '--memory-budget',
        '16',
        '--timeout',
        '300',
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.deepEqual([r.status, r.signal], [1, null], r.stderr);
    const { error } = JSON.parse(r.stdout) as { error: { message: string } };
    assert.match(error.message, /memory budget of 16 MB would be exceeded/);
  });

  it('stops an unbounded model at the memory budget in export too', () => {
    const r = spawnSync(
      process.execPath,
      [CLI, 'export', births(), '--format', 'phasic-json', '--max-states', '2000000000', '--memory-budget', '16'],
      { encoding: 'utf8' },
    );
    assert.deepEqual([r.status, r.signal], [1, null], r.stderr);
    assert.match(r.stderr, /memory budget of 16 MB would be exceeded/);
    assert.equal(r.stdout, '');
  });

  it('stops an unbounded model at the state limit in export, which the error tells to raise', () => {
    const r = spawnSync(
      process.execPath,
      [CLI, 'export', births(), '--format', 'phasic-json', '--max-states', '1000'],
      { encoding: 'utf8' },
    );
    assert.deepEqual([r.status, r.signal], [1, null], r.stderr);
    assert.match(r.stderr, /more than 1000 states.*--max-states/);
    const zero = spawnSync(
      process.execPath,
      [CLI, 'export', births(), '--format', 'phasic-json', '--max-states', '0'],
      { encoding: 'utf8' },
    );
    assert.equal(zero.status, 2, zero.stderr);
  });

  it('has no unlimited setting: a state limit or budget below the least value is a usage error', () => {
    for (const [option, value, message] of [
      ['--max-states', '0', /--max-states: '0' must be an integer ≥ 1/],
      ['--max-states', '', /--max-states: '' is not a decimal number/],
      ['--max-states', '0b11', /--max-states: '0b11' is not a decimal number/],
      ['--memory-budget', '0', /--memory-budget: '0' must be an integer ≥ 16/],
      ['--memory-budget', '15', /--memory-budget: '15' must be an integer ≥ 16/],
      ['--memory-budget', '-1', /--memory-budget: '-1' must be an integer ≥ 16/],
    ] as const) {
      const r = spawnSync(process.execPath, [CLI, 'run', births(), option, value], { encoding: 'utf8' });
      assert.equal(r.status, 2, `${option} ${value}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  it('takes a --timeout longer than the longest timer (2^31 - 1 ms) as a long time, not as none', () => {
    for (const seconds of ['2147484', '3e9', '1e300']) {
      const r = spawnSync(
        process.execPath,
        [CLI, 'run', join(ENGINE_FIXTURES, 'two_locus_n6.json'), '--no-cache', '--timeout', seconds, '--json'],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, `--timeout ${seconds}: ${r.stdout} ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning/);
      assert.ok((JSON.parse(r.stdout) as RunResult).vertices > 0);
    }
  });

  it('keeps only the printed record of each --repeat run', () => {
    // A run's full result (with its decomposition) takes about 70 KB of heap; 1500 of
    // them do not fit a 32 MB heap, 1500 printed records (under 1 KB each) do.
    const r = spawnSync(
      process.execPath,
      [
        '--max-old-space-size=32',
        CLI,
        'run',
        join(ENGINE_FIXTURES, 'two_locus.json'),
        '--no-cache',
        '--repeat',
        '1500',
        '--json',
      ],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    assert.deepEqual([r.status, r.signal], [0, null], r.stderr.slice(0, 2000));
    const { runs } = JSON.parse(r.stdout) as { runs: RunResult[] };
    assert.equal(runs.length, 1500);
    assert.ok(runs.every((run) => run.decomposition === undefined));
  });
});
