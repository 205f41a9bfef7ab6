// Command-line parsing for phasic-trace: the grammar of the usage text, strictly (an
// unknown option, a missing value or a malformed NAME=VALUE is a usage error).
import {
  DEFAULT_EPSILON,
  DEFAULT_GRID_POINTS,
  MAX_EPSILON,
  MAX_GRID_POINTS,
  MIN_EPSILON,
  MIN_GRID_POINTS,
} from '../protocol/distribution';
import { readDecimal, underflowMessage, underflowsToZero } from '../protocol/format';
import {
  DEFAULT_MAX_STATES,
  DEFAULT_MEMORY_BUDGET_MB,
  MAX_MAX_STATES,
  MAX_MEMORY_BUDGET_MB,
  MAX_MOMENTS,
  MIN_MAX_STATES,
  MIN_MEMORY_BUDGET_MB,
} from '../protocol/limits';

/** The engine holds the least block size as a 32-bit count. */
const MAX_MIN_SCC = 2 ** 32 - 1;
/** Each start is a whole optimization; more than this is a typo, not a plan. */
const MAX_STARTS = 10_000;

export const USAGE = `usage:
  phasic-trace run MODEL [--set NAME=VALUE]... [--param NAME=VALUE]... [--moments K]
                   [--covariance R1,R2]... [--min-scc N] [--cache-dir DIR | --no-cache]
                   [--max-states N] [--memory-budget MB] [--timeout SECONDS] [--repeat N] [--gradient]
                   [--json]
  phasic-trace dist MODEL [--reward NAME] [--times T1,T2,... | --grid FROM:TO:N]
                    [--quantiles P1,P2,...] [--epsilon E] [--set NAME=VALUE]... [--param NAME=VALUE]...
                    [--cache-dir DIR | --no-cache] [--max-states N] [--memory-budget MB]
                    [--timeout SECONDS] [--json]
  phasic-trace fit MODEL --data FILE.fs --sfs-reward NAME --fit P1,P2,... [--start P=V]...
                   [--starts N] [--set NAME=VALUE]... [--param NAME=VALUE]...
                   [--cache-dir DIR | --no-cache] [--max-states N] [--memory-budget MB]
                   [--timeout SECONDS] [--json]
  phasic-trace check MODEL [--json]
  phasic-trace clear-caches [--cache-dir DIR] [--json]
  phasic-trace export MODEL --format phasic-json [--set NAME=VALUE]... [--max-states N]
                   [--memory-budget MB] [--out FILE]

MODEL is a .phasic file, a compiled-model .json or a phasic graph .json.
--gradient adds the derivatives of every moment, variance and --covariance with respect to every parameter.
dist: the CDF, survival P(R > t), density, atom P(R = 0) and quantiles of the time to
absorption (--reward time, the default) or of a reward; the CDF within --epsilon (default ${DEFAULT_EPSILON},
from ${MIN_EPSILON} to ${MAX_EPSILON}), the survival and density within --epsilon times themselves (far
tails, p-values; below 1e-289 the survival is said to be below); without --times or --grid
at ${DEFAULT_GRID_POINTS} points from 0 to the 99.9% quantile.
fit: maximum-likelihood estimates of the --fit parameters from a dadi .fs site frequency
spectrum (one population), whose entry k+1 expects a share E[NAME[k]] / sum of E[NAME[j]]
of the sites; the others stay at --param or their defaults. Start values: --start, else
--param, else the default (> 0); --starts N also tries N-1 points spread around them.
--timeout stops a run (all --repeat runs together) that takes longer; Ctrl-C stops it too.
--memory-budget stops a run or an export whose engine memory would exceed MB megabytes (default ${DEFAULT_MEMORY_BUDGET_MB}, at least ${MIN_MEMORY_BUDGET_MB}).`;

export class UsageError extends Error {}

/** What every command that runs a model takes (run, dist, fit): the model, its values, the cache and the limits. */
export interface ModelRunArgs {
  model: string;
  overrides: Record<string, number>;
  params: Record<string, number>;
  cacheDir?: string; // absent: the default directory
  noCache: boolean;
  maxStates: number;
  /** The run stops with a budget error above this many megabytes of engine memory. */
  memoryBudgetMB: number;
  timeoutSeconds?: number; // absent: no limit
  json: boolean;
}
export interface RunArgs extends ModelRunArgs {
  command: 'run';
  moments: number;
  covariances: Array<[string, string]>;
  minScc: number;
  repeat: number;
  /** Also report d moments/dθ and d variance/dθ. */
  gradient: boolean;
}
/** Equally spaced points from `from` to `to`, both included. */
export interface Grid {
  from: number;
  to: number;
  points: number;
}
export interface DistArgs extends ModelRunArgs {
  command: 'dist';
  reward: string;
  /** Absent with `grid` absent: the engine's default grid. */
  times?: number[];
  grid?: Grid;
  quantiles?: number[]; // absent: the engine's default probabilities
  epsilon?: number; // absent: the engine's default
}
export interface FitArgs extends ModelRunArgs {
  command: 'fit';
  data: string;
  sfsReward: string;
  fit: string[];
  start: Record<string, number>;
  starts: number;
}
export interface CheckArgs {
  command: 'check';
  model: string;
  json: boolean;
}
export interface ClearArgs {
  command: 'clear-caches';
  cacheDir?: string;
  json: boolean;
}
export interface ExportArgs {
  command: 'export';
  model: string;
  format: 'phasic-json';
  overrides: Record<string, number>;
  maxStates: number;
  memoryBudgetMB: number;
  out?: string;
}
export interface HelpArgs {
  command: 'help';
}
export type Args = RunArgs | DistArgs | FitArgs | CheckArgs | ClearArgs | ExportArgs | HelpArgs;

function number(option: string, text: string): number {
  const v = readDecimal(text);
  if (v === undefined) throw new UsageError(`${option}: '${text}' is not a decimal number`);
  if (!Number.isFinite(v)) throw new UsageError(`${option}: '${text}' is not a finite number`);
  if (underflowsToZero(text)) throw new UsageError(`${option}: ${underflowMessage(text)}`);
  return v;
}

/**
 * An integer from `min` to `max`. The bound is what the engine or the command can take:
 * beyond it a value used to reach the engine and fail there with the engine's field name
 * (or, for a 32-bit count, wrap round and run).
 */
function integer(option: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = number(option, text);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${option}: '${text}' must be an integer ≥ ${min}`);
  if (v > max) throw new UsageError(`${option}: '${text}' must be an integer from ${min} to ${max}`);
  return v;
}

function positive(option: string, text: string): number {
  const v = number(option, text);
  if (!(v > 0)) throw new UsageError(`${option}: '${text}' must be a number > 0`);
  return v;
}

/** A comma-separated list of numbers, each checked by `check` (which throws the message). */
function numberList(option: string, text: string, check: (v: number, item: string) => void): number[] {
  const items = text.split(',');
  return items.map((item) => {
    if (item.trim() === '') throw new UsageError(`${option}: empty item in '${text}'`);
    const v = number(option, item);
    check(v, item);
    return v;
  });
}

function times(text: string): number[] {
  const list = numberList('--times', text, (t, item) => {
    if (t < 0) throw new UsageError(`--times: '${item}' is negative; times are ≥ 0`);
  });
  if (list.length > MAX_GRID_POINTS)
    throw new UsageError(`--times: at most ${MAX_GRID_POINTS} points (got ${list.length})`);
  for (let i = 1; i < list.length; i++)
    if (list[i] < list[i - 1])
      throw new UsageError(`--times: times must be in ascending order (${list[i]} after ${list[i - 1]})`);
  return list;
}

/**
 * The CDF is known only to within `epsilon`, so within epsilon of 0 it cannot tell
 * which time has probability p: such a quantile would be the error's, not the
 * distribution's (p = 1e-300 of Kingman's T_MRCA came out 4.5e-5 instead of 6.9e-101).
 * Near 1 the survival decides, known to within epsilon relative (decision 94).
 */
function probabilities(text: string, epsilon: number): number[] {
  return numberList('--quantiles', text, (p, item) => {
    if (!(p > 0 && p < 1)) throw new UsageError(`--quantiles: '${item}' is not a probability in (0, 1)`);
    if (!(p > epsilon))
      throw new UsageError(
        `--quantiles: '${item}' is within --epsilon (${epsilon}) of 0: ` +
          'the CDF is known only to within epsilon there; ask for a larger p or a smaller --epsilon',
      );
  });
}

function grid(text: string): Grid {
  const parts = text.split(':');
  if (parts.length !== 3) throw new UsageError(`--grid: expected FROM:TO:N, got '${text}'`);
  const from = number('--grid FROM', parts[0]);
  const to = number('--grid TO', parts[1]);
  const points = integer('--grid N', parts[2], MIN_GRID_POINTS);
  if (points > MAX_GRID_POINTS) throw new UsageError(`--grid N: at most ${MAX_GRID_POINTS} points (got ${points})`);
  if (from < 0) throw new UsageError(`--grid: FROM '${parts[0]}' is negative; times are ≥ 0`);
  if (!(from < to)) throw new UsageError(`--grid: FROM must be less than TO (got '${text}')`);
  return { from, to, points };
}

function epsilon(text: string): number {
  const e = number('--epsilon', text);
  if (!(e >= MIN_EPSILON && e <= MAX_EPSILON))
    throw new UsageError(`--epsilon: '${text}' is outside [${MIN_EPSILON}, ${MAX_EPSILON}]`);
  return e;
}

function parameterList(text: string): string[] {
  const names = text.split(',');
  const seen = new Set<string>();
  for (const name of names) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--fit: '${name}' is not a parameter name`);
    if (seen.has(name)) throw new UsageError(`--fit: ${name} is given twice`);
    seen.add(name);
  }
  return names;
}

/** The fit works on log θ: a start value must be > 0. */
function startValues(start: Record<string, number>): Record<string, number> {
  for (const [name, v] of Object.entries(start))
    if (!(v > 0)) throw new UsageError(`--start ${name}: ${v} must be > 0 (the fit works on log ${name})`);
  return start;
}

function memoryBudget(text: string | undefined): number {
  return text !== undefined
    ? integer('--memory-budget', text, MIN_MEMORY_BUDGET_MB, MAX_MEMORY_BUDGET_MB)
    : DEFAULT_MEMORY_BUDGET_MB;
}

function maxStates(text: string | undefined): number {
  return text !== undefined ? integer('--max-states', text, MIN_MAX_STATES, MAX_MAX_STATES) : DEFAULT_MAX_STATES;
}

function momentCount(text: string): number {
  const k = integer('--moments', text, 1);
  if (k > MAX_MOMENTS) throw new UsageError(`--moments: at most ${MAX_MOMENTS} moments (got ${k})`);
  return k;
}

/** Values by model name: without a prototype, so `constructor` or `__proto__` is an ordinary key. */
function namedValues(): Record<string, number> {
  return Object.create(null) as Record<string, number>;
}

function assignment(option: string, text: string, into: Record<string, number>): void {
  const eq = text.indexOf('=');
  const name = text.slice(0, eq);
  if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new UsageError(`${option}: expected NAME=VALUE, got '${text}'`);
  if (Object.hasOwn(into, name)) throw new UsageError(`${option}: ${name} is given twice`);
  into[name] = number(`${option} ${name}`, text.slice(eq + 1));
}

/** The options of every command that runs a model (ModelRunArgs). */
const MODEL_RUN_OPTIONS = ['--set', '--param', '--cache-dir', '--max-states', '--memory-budget', '--timeout'];
const MODEL_RUN_FLAGS = ['--no-cache', '--json'];

export function parseArgs(argv: string[]): Args {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help')
    return { command: 'help' };
  const positional: string[] = [];
  const seen = new Set<string>();
  const overrides = namedValues();
  const params = namedValues();
  const start = namedValues();
  const covariances: Array<[string, string]> = [];
  const values: Record<string, string> = {};
  const flags = new Set<string>();

  // A Map, so that a command named like an object member (`constructor`) is unknown.
  const allowed = new Map<string, { value: string[]; flag: string[] }>([
    [
      'run',
      {
        value: ['--moments', '--covariance', '--min-scc', '--repeat', ...MODEL_RUN_OPTIONS],
        flag: ['--gradient', ...MODEL_RUN_FLAGS],
      },
    ],
    [
      'dist',
      {
        value: ['--reward', '--times', '--grid', '--quantiles', '--epsilon', ...MODEL_RUN_OPTIONS],
        flag: MODEL_RUN_FLAGS,
      },
    ],
    [
      'fit',
      {
        value: ['--data', '--sfs-reward', '--fit', '--start', '--starts', ...MODEL_RUN_OPTIONS],
        flag: MODEL_RUN_FLAGS,
      },
    ],
    ['check', { value: [], flag: ['--json'] }],
    ['clear-caches', { value: ['--cache-dir'], flag: ['--json'] }],
    ['export', { value: ['--format', '--set', '--max-states', '--memory-budget', '--out'], flag: [] }],
  ]);
  const spec = allowed.get(command);
  if (!spec) throw new UsageError(`unknown command '${command}'`);

  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    if (spec.flag.includes(arg)) {
      flags.add(arg);
      continue;
    }
    if (!spec.value.includes(arg)) throw new UsageError(`${command}: unknown option ${arg}`);
    const value = rest[++i];
    if (value === undefined) throw new UsageError(`${arg} needs a value`);
    if (arg === '--set') assignment(arg, value, overrides);
    else if (arg === '--param') assignment(arg, value, params);
    else if (arg === '--start') assignment(arg, value, start);
    else if (arg === '--covariance') {
      const parts = value.split(',');
      if (parts.length !== 2 || !parts[0] || !parts[1])
        throw new UsageError(`--covariance: expected R1,R2, got '${value}'`);
      covariances.push([parts[0], parts[1]]);
    } else {
      if (seen.has(arg)) throw new UsageError(`${arg} is given twice`);
      // An empty path is most often an unset shell variable (`--cache-dir "$DIR"`): the
      // engine read '' as "no disk cache", so clear-caches cleared nothing and said so
      // with status 0, and a run silently cached nothing; --out '' printed to stdout.
      if (value === '' && (arg === '--cache-dir' || arg === '--out'))
        throw new UsageError(
          arg === '--cache-dir'
            ? '--cache-dir needs a directory (--no-cache runs without a disk cache)'
            : '--out needs a file name (without --out the graph goes to stdout)',
        );
      seen.add(arg);
      values[arg] = value;
    }
  }

  const needsModel = command !== 'clear-caches';
  if (needsModel && positional.length !== 1) throw new UsageError(`${command} needs exactly one MODEL`);
  // As an empty --cache-dir (decision 65): `run ''` was "cannot read : there is no such file".
  if (needsModel && positional[0] === '') throw new UsageError(`${command}: the MODEL path is empty`);
  if (!needsModel && positional.length !== 0) throw new UsageError(`${command} takes no MODEL`);
  const json = flags.has('--json');
  if (flags.has('--no-cache') && values['--cache-dir'] !== undefined)
    throw new UsageError('--cache-dir and --no-cache exclude each other');
  const modelRun = (): ModelRunArgs => ({
    model: positional[0],
    overrides,
    params,
    cacheDir: values['--cache-dir'],
    noCache: flags.has('--no-cache'),
    maxStates: maxStates(values['--max-states']),
    memoryBudgetMB: memoryBudget(values['--memory-budget']),
    timeoutSeconds: values['--timeout'] !== undefined ? positive('--timeout', values['--timeout']) : undefined,
    json,
  });

  switch (command) {
    case 'run':
      return {
        command,
        ...modelRun(),
        moments: values['--moments'] !== undefined ? momentCount(values['--moments']) : 2,
        covariances,
        minScc: values['--min-scc'] !== undefined ? integer('--min-scc', values['--min-scc'], 2, MAX_MIN_SCC) : 4,
        repeat: values['--repeat'] !== undefined ? integer('--repeat', values['--repeat'], 1) : 1,
        gradient: flags.has('--gradient'),
      };
    case 'dist': {
      if (values['--times'] !== undefined && values['--grid'] !== undefined)
        throw new UsageError('--times and --grid exclude each other');
      const reward = values['--reward'] ?? 'time';
      if (reward === '') throw new UsageError('--reward needs a reward name');
      const distributionEpsilon = values['--epsilon'] !== undefined ? epsilon(values['--epsilon']) : undefined;
      return {
        command,
        ...modelRun(),
        reward,
        times: values['--times'] !== undefined ? times(values['--times']) : undefined,
        grid: values['--grid'] !== undefined ? grid(values['--grid']) : undefined,
        quantiles:
          values['--quantiles'] !== undefined
            ? probabilities(values['--quantiles'], distributionEpsilon ?? DEFAULT_EPSILON)
            : undefined,
        epsilon: distributionEpsilon,
      };
    }
    case 'fit': {
      const data = values['--data'];
      const sfsReward = values['--sfs-reward'];
      const fit = values['--fit'];
      if (data === undefined || data === '') throw new UsageError('fit needs --data FILE.fs');
      if (sfsReward === undefined || sfsReward === '') throw new UsageError('fit needs --sfs-reward NAME');
      if (fit === undefined) throw new UsageError('fit needs --fit P1,P2,...');
      return {
        command,
        ...modelRun(),
        data,
        sfsReward,
        fit: parameterList(fit),
        start: startValues(start),
        starts: values['--starts'] !== undefined ? integer('--starts', values['--starts'], 1, MAX_STARTS) : 1,
      };
    }
    case 'check':
      return { command, model: positional[0], json };
    case 'clear-caches':
      return { command, cacheDir: values['--cache-dir'], json };
    default: {
      const format = values['--format'];
      if (format !== 'phasic-json')
        throw new UsageError(`export needs --format phasic-json${format ? ` (got '${format}')` : ''}`);
      return {
        command: 'export',
        model: positional[0],
        format,
        overrides,
        maxStates: maxStates(values['--max-states']),
        memoryBudgetMB: memoryBudget(values['--memory-budget']),
        out: values['--out'],
      };
    }
  }
}
