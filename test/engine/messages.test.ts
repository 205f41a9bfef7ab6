// Errors name what they are about (issue 11, points 4, 5 and 12), through the real
// addon and the real command-line tool: a parameter by its name, a state by its
// variables (or, for a phasic graph, which names none, by its cells and vertex), and
// bad phasic graphs are refused rather than answered with impossible numbers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Engine } from '../../extension/engine/engine';
import { compileModel } from '../../extension/language';
import { assertOnlyCachesHoldMemory, CLI, engineFailure, tempDir, twoDemeFitArgs } from './helpers';

const engine = new Engine();
const dir = tempDir('messages');

function compiled(text: string): string {
  const { model, diagnostics } = compileModel(text, 'messages.phasic');
  assert.ok(model, diagnostics.map((d) => d.message).join('\n'));
  return JSON.stringify(model);
}

const KINGMAN = `model kingman
const n = 4
param theta = 1.0
state k in 1..n = n
rule coalesce
  when k >= 2
  rate theta * k * (k - 1) / 2
  do k -= 1
reward tmrca = 1
`;

/** A phasic graph (Graph.serialize() layout) over states [a, b]. */
function phasicGraph(parts: { start_edges: number[][]; edges: number[][] }): string {
  return JSON.stringify({
    states: [
      [0, 0],
      [2, 0],
      [1, 1],
      [0, 2],
    ],
    n_vertices: 4,
    state_length: 2,
    param_length: 0,
    param_edges: [],
    start_param_edges: [],
    ...parts,
  });
}

describe('engine messages', () => {
  before(async () => {
    engine.configure({ cacheDir: tempDir('messages-cache') });
    await engine.clearCaches();
  });

  it('names a parameter whose value is negative or not finite, in runs and evaluations', async () => {
    const model = compiled(KINGMAN.replace('param theta = 1.0', 'param other = 1.0\nparam theta = 1.0'));
    for (const [value, shown] of [
      [-1, '-1'],
      [Infinity, 'inf'],
      [-0.5, '-0.5'],
    ] as const) {
      const run = await engineFailure(engine.run(model, { params: { theta: value } }));
      assert.equal(run.message, `parameter theta must be finite and >= 0, got ${shown}`);
    }
    const ok = await engine.run(model);
    const evaluation = await engineFailure(engine.evaluate(ok.traceKey, { theta: -2 }));
    assert.equal(evaluation.message, 'parameter theta must be finite and >= 0, got -2');
    const many = await engineFailure(engine.evaluateMany(ok.traceKey, [{ theta: 1 }, { other: NaN }]));
    assert.equal(many.message, 'parameter other must be finite and >= 0, got NaN');
    // A reused run checks its parameters the same way.
    const reused = await engineFailure(engine.run(model, { params: { theta: -1 } }));
    assert.equal(reused.message, 'parameter theta must be finite and >= 0, got -1');
    assertOnlyCachesHoldMemory(engine);
  });

  it('shows a state that can never reach an absorbing state by its variables', async () => {
    // k flips between 1 and 2 forever, with a second variable along for the name.
    const closed = `model closed
state k in 1..2 = 1
state a in 0..3 = 3
rule flip
  rate 1
  do k = 3 - k
`;
    const e = await engineFailure(engine.run(compiled(closed), { minSccSize: 2 }));
    assert.match(e.message, /^state \(k=[12], a=3\) can never reach an absorbing state$/);
    // The same when the component is too small to be a block of its own.
    const small = await engineFailure(engine.run(compiled(closed), { minSccSize: 3 }));
    assert.match(small.message, /^state \(k=[12], a=3\) can never reach an absorbing state$/);
    assertOnlyCachesHoldMemory(engine);
  });

  it('shows a state of many cells by its nonzero ones, in a message of bounded length', async () => {
    // A million cells, one of them nonzero: the message listed every zero (3 MB).
    const wide = (cells: number, filled: number) => `model wide
state k in 0..3 = 3
state x[${cells}]
${Array.from({ length: filled }, (_, i) => `init x[${i}] = ${i + 1}`).join('\n')}
rule r
  when k > 0
  rate 1 / (k - 1)
  do k -= 1
`;
    const one = await engineFailure(engine.run(compiled(wide(1_000_000, 1))));
    assert.match(one.message, / at state k=1, x\[0\]=1, the other cells of x 0$/);
    const none = await engineFailure(engine.run(compiled(wide(1_000_000, 0))));
    assert.match(none.message, / at state k=1, x=0 in all 1000000 cells$/);
    const many = await engineFailure(engine.run(compiled(wide(100_000, 100))));
    assert.match(
      many.message,
      / at state k=1, x\[0\]=1, x\[1\]=2, .* x\[62\]=63, the other cells of x 0 \(and 37 more nonzero cells\)$/,
    );
    assert.ok(many.message.length < 1000, `${many.message.length} characters`);
    // A state of 64 cells or fewer is listed whole, as before.
    const small = await engineFailure(engine.run(compiled(wide(4, 2))));
    assert.match(small.message, / at state k=1, x=\[1, 2, 0, 0\]$/);
    assertOnlyCachesHoldMemory(engine);
  });

  it('shows a state of a phasic graph by its cells and vertex, saying it has no names', async () => {
    const cycle = phasicGraph({
      start_edges: [[1, 1]],
      edges: [
        [1, 2, 1],
        [2, 1, 1],
        [3, 1, 1],
      ],
    });
    const e = await engineFailure(engine.run(cycle, { minSccSize: 2 }));
    assert.match(
      e.message,
      /^state \[(2, 0|1, 1)\] \(vertex [12] of the phasic graph, whose states have no names\) can never reach an absorbing state$/,
    );
  });

  it('refuses a state whose every firing leaves it unchanged (not absorbing, never left)', async () => {
    const stuck = compiled(`${KINGMAN}rule stay
  when k == 1
  rate theta
  do k = k
`);
    const e = await engineFailure(engine.run(stuck));
    assert.equal(
      e.message,
      'state (k=1) can never reach an absorbing state: every transition that fires there leaves it unchanged (rule stay)',
    );
    assert.equal(e.kind, 'model');
    assert.equal(e.rule, 'stay');
    assert.ok(e.site >= 0, 'the error points into the source');
    // Where another rule leaves the state, the self-transition is only dropped.
    const dropped = await engine.run(compiled(`${KINGMAN}rule stay\n  when k == 2\n  rate theta\n  do k = k\n`));
    assert.equal(dropped.warnings.length, 1);
    assert.ok(Math.abs(Number(dropped.moments.tmrca[0]) - 1.5) < 1e-12);
  });

  it('warns, beside the exact 0, when no rule fires in any start state', async () => {
    const message =
      'no rule fires in any start state, so the process is absorbed at once: the time and every reward are 0';
    const stuck = await engine.run(compiled(KINGMAN.replace('state k in 1..n = n', 'state k in 1..n = 1')));
    assert.equal(Number(stuck.moments.tmrca[0]), 0);
    assert.deepEqual(
      stuck.warnings.map((w) => w.message),
      [message],
    );
    // One start state that moves is enough: no warning.
    const moving = await engine.run(compiled(KINGMAN));
    assert.deepEqual(moving.warnings, []);
    // The command line prints it after the answer, for an empty file too.
    const empty = join(dir, 'empty.phasic');
    writeFileSync(empty, '');
    const cli = spawnSync(process.execPath, [CLI, 'run', empty, '--no-cache'], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /E\[R\^1\]=0 /);
    assert.ok(cli.stdout.includes(`warning: ${message}`), cli.stdout);
  });

  it('warns, beside unchanged numbers, when a model with absorb conditions reaches states where no rule fires and none holds', async () => {
    // Decision 95. k = 4 → 3 → 2 → 1 at rate mu, and no rule fires at k = 1, where the
    // declared `absorb when k == 0` does not hold: E[t] = 3/mu all the same, said so.
    const TRAP = `model trap
param mu = 1.0
state k in 0..4 = 4
absorb when k == 0
rule down
  when k >= 2
  rate mu
  do k -= 1
reward t = 1
`;
    const one = await engine.run(compiled(TRAP), { moments: 2 });
    assert.deepEqual(
      [Number(one.moments.t[0]), Number(one.moments.t[1])],
      [3, 12], // Erlang(3, 1): E[t] = 3, E[t²] = 3 · 4
    );
    assert.deepEqual(
      one.warnings.map((w) => w.message),
      [
        '1 reached state absorbs only because no rule fires there, though the model declares absorb conditions ' +
          'and none holds in it: state (k=1). If it is meant to absorb, say so in an absorb condition; otherwise ' +
          "a rule's guard or rate misses it (the moments count the time until such a state is reached)",
      ],
    );
    // Two such states from one start: counted, the first found named.
    const two = TRAP.replace(
      'rule down\n  when k >= 2\n  rate mu\n  do k -= 1',
      'rule one\n  when k == 4\n  rate mu\n  do k -= 1\nrule two\n  when k == 4\n  rate mu\n  do k -= 2',
    );
    const both = await engine.run(compiled(two));
    assert.equal(Number(both.moments.t[0]), 0.5);
    assert.match(
      both.warnings[0].message,
      /^2 reached states absorb only .* in them \(the first: state \(k=3\)\)\. If they are/,
    );
    // Without absorb conditions, ending where no rule fires is the language's way: no warning.
    const implicit = await engine.run(compiled(TRAP.replace('absorb when k == 0\n', '')), { moments: 2 });
    assert.deepEqual([Number(implicit.moments.t[0]), Number(implicit.moments.t[1])], [3, 12]);
    assert.deepEqual(implicit.warnings, []);
    // A state where the condition holds is absorbing as declared: no warning either.
    const declared = await engine.run(compiled(TRAP.replace('when k >= 2', 'when k >= 1')));
    assert.equal(Number(declared.moments.t[0]), 4);
    assert.deepEqual(declared.warnings, []);
    // The command line prints it after the answer.
    const file = join(dir, 'trap.phasic');
    writeFileSync(file, TRAP);
    const cli = spawnSync(process.execPath, [CLI, 'run', file, '--no-cache'], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /^t: E\[R\^1\]=3 E\[R\^2\]=12 /m);
    assert.match(
      cli.stdout,
      /^warning: 1 reached state absorbs only because no rule fires there, .*: state \(k=1\)\./m,
    );
  });

  it('refuses a phasic graph whose rate is not 0 as written but reads as 0, at its line and column', () => {
    // Decision 96: 1e-400 was read as 0, a state never left, and the run answered
    // E[time] = 0 with status 0. As 1e400 is, it is refused where it is written.
    const graph = (weight: string) =>
      phasicGraph({
        start_edges: [[1, 1]],
        edges: [
          [1, 2, 0.125],
          [2, 3, 1],
        ],
      }).replace('0.125', weight);
    const file = join(dir, 'tiny-rate.json');
    writeFileSync(file, graph('1e-400'));
    const column = graph('1e-400').indexOf('1e-400') + 1;
    const refused = spawnSync(process.execPath, [CLI, 'run', file, '--no-cache'], { encoding: 'utf8' });
    assert.equal(refused.status, 1, refused.stdout);
    assert.equal(
      refused.stderr,
      `phasic-trace: ${file}: invalid JSON at line 1, column ${column} (byte ${column - 1}): number too small for a double (the least is 4.9e-324): it would read as 0; write 0 if 0 is meant\n`,
    );
    // A subnormal rate is what was written: E[time] = 1/1e-310 + 1 is beyond a double, and said so.
    writeFileSync(file, graph('1e-310'));
    const subnormal = spawnSync(process.execPath, [CLI, 'run', file, '--no-cache', '--moments', '1'], {
      encoding: 'utf8',
    });
    assert.equal(subnormal.status, 0, subnormal.stderr);
    assert.match(subnormal.stdout, /^time: E\[R\^1\]=out of range /m);
  });

  it("keeps the run's warnings in dist and fit, which used to drop them", () => {
    const stuckFile = join(dir, 'stuck.phasic');
    writeFileSync(stuckFile, KINGMAN.replace('state k in 1..n = n', 'state k in 1..n = 1'));
    const message =
      'no rule fires in any start state, so the process is absorbed at once: the time and every reward are 0';
    const dist = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, 'dist', stuckFile, '--times', '0,1', '--no-cache', ...args], {
        encoding: 'utf8',
      });
    const human = dist();
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /^atom: P\(time = 0\) = 1$/m);
    assert.equal(human.stderr, `phasic-trace: warning: ${message}\n`);
    const json = dist('--json');
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout).warnings, [message]);
    // None to give: no field, as before.
    const kingman = join(dir, 'kingman-dist.phasic');
    writeFileSync(kingman, KINGMAN);
    const quiet = spawnSync(process.execPath, [CLI, 'dist', kingman, '--times', '1', '--no-cache', '--json'], {
      encoding: 'utf8',
    });
    assert.equal(quiet.stderr, '');
    assert.equal(JSON.parse(quiet.stdout).warnings, undefined);
    // A cache directory that cannot be written: dist and fit say so, as run does.
    const notADirectory = join(dir, 'cache-is-a-file');
    writeFileSync(notADirectory, 'not a directory');
    const cacheWarning = /^phasic-trace: warning: the trace cache directory .*cache-is-a-file cannot be written/m;
    const d = spawnSync(process.execPath, [CLI, 'dist', kingman, '--times', '1', '--cache-dir', notADirectory], {
      encoding: 'utf8',
    });
    assert.equal(d.status, 0, d.stderr);
    assert.match(d.stderr, cacheWarning);
    const fit = spawnSync(process.execPath, [CLI, 'fit', ...twoDemeFitArgs('--cache-dir', notADirectory)], {
      encoding: 'utf8',
    });
    assert.equal(fit.status, 0, fit.stderr);
    assert.match(fit.stderr, cacheWarning);
  });

  it('refuses a phasic graph whose start weights are not a distribution, or whose vertex only loops', async () => {
    const edges = [
      [1, 3, 1],
      [2, 3, 1],
    ];
    const over = await engineFailure(
      engine.run(
        phasicGraph({
          start_edges: [
            [1, 1],
            [2, 0.5],
          ],
          edges,
        }),
      ),
    );
    assert.equal(over.message, 'start_edges: start weights sum to 1.5, more than 1');
    assert.equal(over.field, 'start_edges');
    const none = await engineFailure(engine.run(phasicGraph({ start_edges: [], edges })));
    assert.equal(none.message, 'start_edges: at least one initial state with a positive weight is required');
    const negative = await engineFailure(
      engine.run(
        phasicGraph({
          start_edges: [
            [1, -0.5],
            [2, 1],
          ],
          edges,
        }),
      ),
    );
    assert.equal(negative.field, 'start_edges[0][1]');
    const loop = await engineFailure(
      engine.run(
        phasicGraph({
          start_edges: [[1, 1]],
          edges: [
            [1, 2, 1],
            [1, 3, 1],
            [2, 2, 4],
          ],
        }),
      ),
    );
    assert.equal(
      loop.message,
      'edges[2][0]: state [1, 1] (vertex 2 of the phasic graph, whose states have no names) can never reach an absorbing state: its only edges are self-loops',
    );
    // A defective start (weights below 1) is a distribution that may start absorbed:
    // from 1 at rate 2 to 3, E[T] = 0.5 · 1/2 + 0.25 · 1 = 0.5 (vertex 2 leaves at rate 1).
    const defect = await engine.run(
      phasicGraph({
        start_edges: [
          [1, 0.5],
          [2, 0.25],
        ],
        edges: [
          [1, 3, 2],
          [2, 3, 1],
        ],
      }),
    );
    assert.ok(Math.abs(Number(defect.moments.time[0]) - 0.5) < 1e-12, String(defect.moments.time[0]));
    // E[T²] = 0.5 · 2/2² + 0.25 · 2/1² = 0.75, so Var = 0.75 − 0.25 = 0.5 ≥ 0.
    assert.ok(Math.abs(Number(defect.variance.time) - 0.5) < 1e-12, String(defect.variance.time));
    assertOnlyCachesHoldMemory(engine);
  });

  it('names the parameter and the state in the command-line tool too', () => {
    const kingman = join(dir, 'kingman.phasic');
    writeFileSync(kingman, KINGMAN);
    const run = (file: string, ...args: string[]) =>
      spawnSync(process.execPath, [CLI, 'run', file, '--no-cache', ...args], { encoding: 'utf8' });
    const negative = run(kingman, '--param', 'theta=-1');
    assert.notEqual(negative.status, 0);
    assert.match(negative.stderr, /parameter theta must be finite and >= 0, got -1/);
    const graph = join(dir, 'over.json');
    writeFileSync(
      graph,
      phasicGraph({
        start_edges: [
          [1, 1],
          [2, 0.5],
        ],
        edges: [
          [1, 3, 1],
          [2, 3, 1],
        ],
      }),
    );
    const over = run(graph);
    assert.notEqual(over.status, 0);
    assert.match(over.stderr, /start_edges: start weights sum to 1\.5, more than 1/);
  });
});
