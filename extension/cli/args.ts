// Command-line parsing for phasic-trace: the grammar of the usage text, strictly (an
// unknown option, a missing value or a malformed NAME=VALUE is a usage error).
import { DEFAULT_MAX_STATES, DEFAULT_MEMORY_BUDGET_MB, MIN_MAX_STATES, MIN_MEMORY_BUDGET_MB } from '../protocol/limits';

export const USAGE = `usage:
  phasic-trace run MODEL [--set NAME=VALUE]... [--param NAME=VALUE]... [--moments K]
                   [--covariance R1,R2]... [--min-scc N] [--cache-dir DIR | --no-cache]
                   [--max-states N] [--memory-budget MB] [--timeout SECONDS] [--repeat N] [--gradient]
                   [--json]
  phasic-trace check MODEL [--json]
  phasic-trace clear-caches [--cache-dir DIR] [--json]
  phasic-trace export MODEL --format phasic-json [--set NAME=VALUE]... [--max-states N]
                   [--memory-budget MB] [--out FILE]

MODEL is a .phasic file, a compiled-model .json or a phasic graph .json.
--gradient adds the derivatives of every moment and variance with respect to every parameter.
--timeout stops a run (all --repeat runs together) that takes longer; Ctrl-C stops it too.
--memory-budget stops a run or an export whose engine memory would exceed MB megabytes (default ${DEFAULT_MEMORY_BUDGET_MB}, at least ${MIN_MEMORY_BUDGET_MB}).`;

export class UsageError extends Error {}

export interface RunArgs {
  command: 'run';
  model: string;
  overrides: Record<string, number>;
  params: Record<string, number>;
  moments: number;
  covariances: Array<[string, string]>;
  minScc: number;
  cacheDir?: string; // absent: the default directory
  noCache: boolean;
  maxStates: number;
  /** The run stops with a budget error above this many megabytes of engine memory. */
  memoryBudgetMB: number;
  timeoutSeconds?: number; // absent: no limit
  repeat: number;
  /** Also report d moments/dθ and d variance/dθ. */
  gradient: boolean;
  json: boolean;
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
export type Args = RunArgs | CheckArgs | ClearArgs | ExportArgs | HelpArgs;

function number(option: string, text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${option}: '${text}' is not a number`);
  return v;
}

function integer(option: string, text: string, min: number): number {
  const v = number(option, text);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${option}: '${text}' must be an integer ≥ ${min}`);
  return v;
}

function positive(option: string, text: string): number {
  const v = number(option, text);
  if (!(v > 0)) throw new UsageError(`${option}: '${text}' must be a number > 0`);
  return v;
}

function memoryBudget(text: string | undefined): number {
  return text !== undefined ? integer('--memory-budget', text, MIN_MEMORY_BUDGET_MB) : DEFAULT_MEMORY_BUDGET_MB;
}

function maxStates(text: string | undefined): number {
  return text !== undefined ? integer('--max-states', text, MIN_MAX_STATES) : DEFAULT_MAX_STATES;
}

function momentCount(text: string): number {
  const k = integer('--moments', text, 1);
  if (k > 16) throw new UsageError(`--moments: at most 16 moments (got ${k})`);
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

export function parseArgs(argv: string[]): Args {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help')
    return { command: 'help' };
  const positional: string[] = [];
  const seen = new Set<string>();
  const overrides = namedValues();
  const params = namedValues();
  const covariances: Array<[string, string]> = [];
  const values: Record<string, string> = {};
  const flags = new Set<string>();

  // A Map, so that a command named like an object member (`constructor`) is unknown.
  const allowed = new Map<string, { value: string[]; flag: string[] }>([
    [
      'run',
      {
        value: [
          '--set',
          '--param',
          '--moments',
          '--covariance',
          '--min-scc',
          '--cache-dir',
          '--max-states',
          '--memory-budget',
          '--timeout',
          '--repeat',
        ],
        flag: ['--no-cache', '--gradient', '--json'],
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
    else if (arg === '--covariance') {
      const parts = value.split(',');
      if (parts.length !== 2 || !parts[0] || !parts[1])
        throw new UsageError(`--covariance: expected R1,R2, got '${value}'`);
      covariances.push([parts[0], parts[1]]);
    } else {
      if (seen.has(arg)) throw new UsageError(`${arg} is given twice`);
      seen.add(arg);
      values[arg] = value;
    }
  }

  const needsModel = command !== 'clear-caches';
  if (needsModel && positional.length !== 1) throw new UsageError(`${command} needs exactly one MODEL`);
  if (!needsModel && positional.length !== 0) throw new UsageError(`${command} takes no MODEL`);
  const json = flags.has('--json');

  switch (command) {
    case 'run':
      if (flags.has('--no-cache') && values['--cache-dir'] !== undefined)
        throw new UsageError('--cache-dir and --no-cache exclude each other');
      return {
        command,
        model: positional[0],
        overrides,
        params,
        moments: values['--moments'] !== undefined ? momentCount(values['--moments']) : 2,
        covariances,
        minScc: values['--min-scc'] !== undefined ? integer('--min-scc', values['--min-scc'], 2) : 4,
        cacheDir: values['--cache-dir'],
        noCache: flags.has('--no-cache'),
        maxStates: maxStates(values['--max-states']),
        memoryBudgetMB: memoryBudget(values['--memory-budget']),
        timeoutSeconds: values['--timeout'] !== undefined ? positive('--timeout', values['--timeout']) : undefined,
        repeat: values['--repeat'] !== undefined ? integer('--repeat', values['--repeat'], 1) : 1,
        gradient: flags.has('--gradient'),
        json,
      };
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
