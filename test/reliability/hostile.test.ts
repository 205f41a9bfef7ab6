// Hostile models: each gets its front-end diagnostic or a clear engine error, through
// the command-line tool and through the engine process, and none hangs or crashes.
// A model that is fine for the front end but not for the engine (state space, rates
// at particular states) is stopped by the engine with an error naming the rule, the
// binding and the state; files that bypass the front end (.json) are checked by the
// engine's loader.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CompiledModel } from '../../extension/protocol/compiled-model';
import { onlyCachesHold } from '../memory';
import { CLI, compileSource, EngineProcess, engineSettings, ROOT, TWO_LOCUS, tempDir } from './helpers';

// Small enough to reach quickly; the default limit is checked separately.
const STATE_LIMIT = 100_000;
// Far above the slowest case (the endless loop stops after 2^26 iterations, ~1.5 s).
const TIMEOUT_MS = 60_000;

interface Case {
  name: string;
  file: string;
  text: string;
  /** The front end's error, or undefined when the model compiles. */
  diagnostic?: RegExp;
  /** What the CLI and the engine process report. */
  error: RegExp;
  /** The failure's kind from the engine process; 'model' unless given. */
  kind?: 'model' | 'limit';
}

const three = (n: number) =>
  Array.from(
    { length: 3 },
    (_, i) => `state v${i} in 0..${n}\nrule up${i} when v${i} < ${n} rate r do v${i} += 1`,
  ).join('\n');

function compiledKingman(edit: (m: CompiledModel) => void): string {
  const m = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'engine', 'kingman.json'), 'utf8')) as CompiledModel;
  edit(m);
  return JSON.stringify(m);
}

const CASES: Case[] = [
  {
    name: 'a 10^9-state space',
    file: 'billion.phasic',
    text: `model billion\nparam r = 1.0\n${three(1000)}\n`,
    error: new RegExp(`more than ${STATE_LIMIT} states \\(explored \\d+ states`),
    kind: 'limit',
  },
  {
    name: 'an expression nested 100,000 levels deep',
    file: 'deep.phasic',
    text: `model deep\nparam r = 1.0\nstate x\nrule go when x < 1 rate r * ${'('.repeat(100_000)}1${')'.repeat(100_000)} do x += 1\n`,
    diagnostic: /nested more than 200 levels deep/,
    error: /nested more than 200 levels deep/,
  },
  {
    name: 'a flat sum of 201 terms, nothing nested',
    file: 'flat.phasic',
    text: `model flat\nparam r = 1.0\nstate x\nrule go when x < 1 rate r * ${Array(201).fill('1').join(' + ')} do x += 1\n`,
    diagnostic:
      /more than 200 levels high: each operator of a chain such as `a \+ b \+ c` adds a level, though nothing is nested/,
    error:
      /more than 200 levels high: each operator of a chain such as `a \+ b \+ c` adds a level, though nothing is nested/,
  },
  {
    name: 'JSON nested 1,000,000 levels deep',
    file: 'deep.json',
    text: `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`,
    error: /nesting deeper than 512 levels/,
  },
  {
    name: 'a compiled program deeper than the stack',
    file: 'stack.json',
    text: compiledKingman((m) => {
      m.rules[0].rate[1] = [...Array(300).fill([0, 1]).flat(), ...Array(299).fill(7)];
    }),
    error: /rules\[0\]\.rate\[1\]\[512\]: stack deeper than 256/,
  },
  {
    name: 'a compiled program that loops forever',
    file: 'loop.json',
    text: compiledKingman((m) => {
      // CONST 1; JUMP_IF_FALSE 6; JUMP 0; CONST 1: the condition never fails.
      m.rules[0].rate[1] = [0, 1, 21, 6, 20, 0, 0, 1];
    }),
    error: /more than 67108864 loop iterations in one evaluation; its loop does not end in rule coalesce at state k=4/,
  },
  {
    name: 'a constant beyond the double range',
    file: 'huge.phasic',
    text: 'model huge\nconst big = 1e308 * 10\nparam r = 1.0\nstate x\nrule go when x < 1 rate r * big do x += 1\n',
    diagnostic: /Constant `big` evaluates to Infinity/,
    error: /Constant `big` evaluates to Infinity/,
  },
  {
    name: 'an initial value beyond the 32-bit state cells',
    file: 'hugeinit.phasic',
    text: 'model hugeinit\nparam r = 1.0\nstate x\ninit x = 1e300\nrule go when x >= 1 rate r do x -= 1\n',
    diagnostic: /beyond the 32-bit range of state cells/,
    error: /beyond the 32-bit range of state cells/,
  },
  {
    name: 'a state vector of 10^9 cells',
    file: 'hugearray.phasic',
    text: 'model hugearray\nparam r = 1.0\nstate s[1000000000]\ninit s[0] = 1\nrule go when s[0] >= 1 rate r do s[0] -= 1\n',
    diagnostic: /1000000000 cells, more than the 1048576 the engine accepts/,
    error: /1000000000 cells, more than the 1048576 the engine accepts/,
  },
  {
    name: 'a constant divided by zero',
    file: 'divconst.phasic',
    text: 'model divconst\nconst z = 1 / 0\nparam r = 1.0\nstate x\nrule go when x < 3 rate r * z do x += 1\n',
    diagnostic: /Constant `z` evaluates to Infinity/,
    error: /Constant `z` evaluates to Infinity/,
  },
  {
    name: 'a rate divided by a state that is zero',
    file: 'divstate.phasic',
    text: 'model divstate\nparam r = 1.0\nstate x\nrule go when x < 3 rate r / x do x += 1\n',
    error: /coefficient of r of the rate is inf, but must be finite and >= 0 in rule go at state x=0/,
  },
  {
    name: 'a constant index out of range',
    file: 'constindex.phasic',
    text: 'model constindex\nparam r = 1.0\nstate s[3]\ninit s[5] = 1\nrule go when s[0] >= 1 rate r do s[0] -= 1\n',
    diagnostic: /Index 5 is out of range for `s`, whose size is 3/,
    error: /Index 5 is out of range for `s`/,
  },
  {
    name: 'an index out of range at one binding',
    file: 'index.phasic',
    text: 'model index\nconst n = 3\nparam r = 1.0\nstate s[n]\ninit s[0] = 1\nrule move for i in 0..n-1 when s[i] >= 1 rate r do s[i] -= 1; s[i + 1] += 1\n',
    error: /index 3 is out of range 0\.\.2 in rule move with i=2 at state s=\[0, 0, 1\]/,
  },
  {
    name: 'a NaN rate',
    file: 'nan.phasic',
    text: 'model nan\nparam r = 1.0\nstate x\nrule go when x < 2 rate r * (x - 1) / (x - 1) do x += 1\n',
    error: /coefficient of r of the rate is NaN, but must be finite and >= 0 in rule go at state x=1/i,
  },
  {
    name: 'an infinite rate',
    file: 'inf.phasic',
    text: 'model inf\nparam r = 1.0\nstate x in 0..5\nrule go when x < 2 rate r * 1e200 * 1e200 * (x + 1) do x += 1\n',
    error: /coefficient of r of the rate is inf, but must be finite and >= 0 in rule go at state x=0/,
  },
];

describe('hostile models', () => {
  let dir: string;
  let engine: EngineProcess;
  before(async () => {
    dir = tempDir('hostile');
    for (const c of CASES) writeFileSync(join(dir, c.file), c.text);
    engine = await EngineProcess.start(engineSettings('', { maxStates: STATE_LIMIT }));
  });
  after(async () => {
    await engine.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('the front end', () => {
    for (const c of CASES.filter((c) => c.file.endsWith('.phasic'))) {
      it(`${c.diagnostic ? 'reports' : 'compiles'} ${c.name}`, () => {
        const { model, diagnostics } = compileSource(c.text, c.file);
        const errors = diagnostics.filter((d) => d.severity === 'error');
        if (c.diagnostic) {
          assert.equal(model, undefined, 'no compiled model');
          assert.ok(
            errors.some((d) => c.diagnostic!.test(d.message)),
            `errors: ${errors.map((d) => d.message).join(' | ')}`,
          );
        } else {
          assert.deepEqual(errors, [], 'the engine, not the front end, finds this one');
          assert.ok(model);
        }
      });
    }
  });

  describe('the command-line tool', () => {
    for (const c of CASES) {
      it(`stops ${c.name} with a clear error`, () => {
        const r = spawnSync(
          process.execPath,
          [CLI, 'run', join(dir, c.file), '--json', '--no-cache', '--max-states', String(STATE_LIMIT)],
          { encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
        );
        assert.equal(r.signal, null, `killed by ${r.signal} (a crash or the ${TIMEOUT_MS} ms timeout)`);
        assert.equal(r.status, 1, `exit status; stderr: ${r.stderr}`);
        const { error } = JSON.parse(r.stdout) as { error: { message: string; file: string; line?: number } };
        assert.match(error.message, c.error);
        assert.equal(error.file, join(dir, c.file));
      });
    }

    it('stops a 10^9-state space at the default state limit of 2,000,000', () => {
      const r = spawnSync(process.execPath, [CLI, 'run', join(dir, 'billion.phasic'), '--no-cache'], {
        encoding: 'utf8',
        timeout: TIMEOUT_MS,
      });
      assert.equal(r.signal, null, `killed by ${r.signal}`);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        /more than 2000000 states \(explored \d+ states, \d+ transitions so far\); raise phasic\.engine\.maxStates or --max-states/,
      );
    });
  });

  describe('the engine process', () => {
    for (const c of CASES) {
      it(`stops ${c.name} with a clear error and stays alive`, async () => {
        const failure = await engine.run(join(dir, c.file), {}, 1).then(
          () => assert.fail('the run succeeded'),
          (e: { message: string; data?: { kind: string } }) => e,
        );
        assert.match(failure.message, c.error);
        assert.equal(failure.data?.kind, c.kind ?? 'model');
        assert.ok(engine.alive, 'the engine process is alive');
        assert.equal(
          onlyCachesHold(await engine.request('phasic/memory', {})),
          undefined,
          'nothing of the run is left',
        );
      });
    }

    it('runs a sound model afterwards', async () => {
      const reply = await engine.run(TWO_LOCUS, { n: 3 }, 2);
      assert.equal(reply.result.vertices, 32);
      assert.ok(Math.abs(Number(reply.result.moments.tmrca[0]) - 1.832574) < 1e-6);
    });
  });
});
