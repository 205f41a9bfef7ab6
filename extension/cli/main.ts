// phasic-trace: the engine from the command line (docs/engine.md, "Command line").
// Exit status: 0 on success, 1 when the model or the engine fails (or --timeout
// stops a run), 2 on a usage error, 130 when Ctrl-C stops a run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Engine, EngineFailure } from '../engine/engine';
import type { ClearResult, RunResult } from '../protocol/engine';
import { nonFiniteSummary, nonFiniteWord, type Moment } from '../protocol/moment';
import { parseArgs, UsageError, USAGE, type CheckArgs, type ClearArgs, type ExportArgs, type RunArgs } from './args';
import { checkModel, CliError, loadModel, type LoadedModel } from './model';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'phasic-trace');
}

const MB = 1024 * 1024;

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/** An engine failure, placed in the model's source when it names a site. */
function placed(error: unknown, model: LoadedModel): CliError {
  if (error instanceof CliError) return error;
  const failure = EngineFailure.from(error);
  const site = failure.site >= 0 ? model.sites[failure.site] : undefined;
  const detail = failure.field ? ` (at ${failure.field})` : '';
  return new CliError(failure.message + detail, model.file, site ? site[0] + 1 : undefined, site ? site[1] + 1 : undefined);
}

/** What `run --json` prints for one run: the RunResult without its decomposition. */
function runRecord(result: RunResult): Omit<RunResult, 'decomposition'> {
  const { decomposition: _decomposition, ...rest } = result;
  return rest;
}

/**
 * `E[tmrca] and Var(tmrca) are infinite: <the engine's reason>`, one line per kind. A
 * non-finite answer is still an answer (an infinite expectation is correct), so the run
 * exits 0 and says so on stderr; --json carries the reason as `nonFinite`.
 */
function nonFiniteWarnings(r: RunResult): string[] {
  return nonFiniteSummary(r).map((what) => `phasic-trace: warning: ${what}: ${r.nonFinite ?? 'not finite'}`);
}

function describeRun(r: RunResult): string {
  const lines = [
    `${r.model}: ${r.vertices} vertices, ${r.edges} edges, ${r.absorbing} absorbing`,
    `components: ${r.sccs.count} (largest ${r.sccs.largest}); blocks: ${r.sccs.blocks} (${r.sccs.recorded} recorded, ${r.sccs.cached} cached)` +
      (r.reused ? '; unchanged model: the cached run was reused' : ''),
    `trace: ${r.trace.operations} operations, ${r.trace.commands} commands, ${r.trace.bytes} bytes`,
    `params: ${Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ') || '(none)'}`,
  ];
  // Non-finite values print as "infinite" / "undefined"; why is on stderr (nonFiniteWarnings).
  const show = (m: Moment) => nonFiniteWord(m) ?? String(m);
  for (const [reward, moments] of Object.entries(r.moments)) {
    lines.push(`${reward}: ${moments.map((m, i) => `E[R^${i + 1}]=${show(m)}`).join(' ')} Var=${show(r.variance[reward])}`);
  }
  for (const [pair, v] of Object.entries(r.covariance)) lines.push(`Cov(${pair}) = ${show(v)}`);
  const t = r.timings_ms;
  lines.push(`time: ${t.total.toFixed(1)} ms (explore ${t.explore.toFixed(1)}, scc ${t.scc.toFixed(1)}, record ${t.record.toFixed(1)}, evaluate ${t.evaluate.toFixed(2)})`);
  lines.push(`memory: peak ${(r.memory.peak_accounted_bytes / MB).toFixed(2)} MB accounted, rss ${(r.memory.rss_bytes / MB).toFixed(1)} MB`);
  for (const w of r.warnings) lines.push(`warning: ${w.message}`);
  return lines.join('\n');
}

/** Exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells expect. */
const INTERRUPTED = 130;

async function run(args: RunArgs, engine: Engine): Promise<number> {
  // The engine stops at its next cancellation check, frees what the run built and
  // keeps its caches consistent; the process then exits normally.
  const stop = new AbortController();
  const timer = args.timeoutSeconds === undefined ? undefined : setTimeout(() => stop.abort('timeout'), args.timeoutSeconds * 1000);
  const interrupt = () => stop.abort('interrupt');
  process.once('SIGINT', interrupt);
  const runs: RunResult[] = [];
  try {
    const model = loadModel(args.model, args.overrides);
    engine.configure({ cacheDir: args.noCache ? '' : (args.cacheDir ?? defaultCacheDir()) });
    try {
      for (let i = 0; i < args.repeat; i++) {
        runs.push(
          await engine.run(model.engineText, {
            maxStates: args.maxStates,
            minSccSize: args.minScc,
            moments: args.moments,
            covariances: args.covariances,
            params: args.params,
            signal: stop.signal,
          }),
        );
      }
    } catch (error) {
      if (stop.signal.reason === 'timeout')
        throw new CliError(`the run took longer than --timeout ${args.timeoutSeconds} s and was stopped`, model.file);
      if (stop.signal.reason === 'interrupt') {
        fail(new CliError('interrupted; the run was stopped', model.file), args.json);
        return INTERRUPTED;
      }
      throw placed(error, model);
    }
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', interrupt);
  }
  if (args.json) {
    print(JSON.stringify(args.repeat === 1 ? runRecord(runs[0]) : { runs: runs.map(runRecord) }));
  } else {
    print(runs.map((r, i) => (runs.length > 1 ? `run ${i + 1}\n` : '') + describeRun(r)).join('\n\n'));
    const warnings = nonFiniteWarnings(runs[0]);
    if (warnings.length) process.stderr.write(warnings.join('\n') + '\n');
  }
  return 0;
}

function check(args: CheckArgs): number {
  const diagnostics = checkModel(args.model);
  if (args.json) {
    print(JSON.stringify({
      diagnostics: diagnostics.map((d) => ({
        file: args.model,
        line: d.range.start.line + 1,
        column: d.range.start.character + 1,
        endLine: d.range.end.line + 1,
        endColumn: d.range.end.character + 1,
        severity: d.severity,
        code: d.code,
        message: d.message,
      })),
    }));
  } else {
    for (const d of diagnostics)
      print(`${args.model}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity}: ${d.message}`);
  }
  return diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
}

async function clearCaches(args: ClearArgs, engine: Engine): Promise<void> {
  engine.configure({ cacheDir: args.cacheDir ?? defaultCacheDir() });
  const result: ClearResult = await engine.clearCaches();
  if (args.json) print(JSON.stringify(result));
  else print(`removed ${result.disk.files} cache files (${result.disk.bytes} bytes) from ${args.cacheDir ?? defaultCacheDir()}`);
}

async function exportModel(args: ExportArgs, engine: Engine): Promise<void> {
  const model = loadModel(args.model, args.overrides);
  let text: string;
  try {
    text = await engine.exportPhasicJson(model.engineText);
  } catch (error) {
    throw placed(error, model);
  }
  if (args.out) {
    try {
      writeFileSync(args.out, text + '\n');
    } catch (error) {
      throw new CliError(`cannot write ${args.out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, args.out);
    }
  } else print(text);
}

function fail(error: CliError, json: boolean): void {
  if (json) {
    const e: Record<string, unknown> = { message: error.message };
    if (error.file !== undefined) e.file = error.file;
    if (error.line !== undefined) e.line = error.line;
    if (error.column !== undefined) e.column = error.column;
    print(JSON.stringify({ error: e }));
  } else {
    const where = [error.file, error.line, error.column].filter((x) => x !== undefined).join(':');
    process.stderr.write(`phasic-trace: ${where ? where + ': ' : ''}${error.message}\n`);
  }
}

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`phasic-trace: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (args.command === 'help') {
    print(USAGE);
    return 0;
  }
  const json = 'json' in args && args.json;
  try {
    switch (args.command) {
      case 'check':
        return check(args);
      case 'run':
        return await run(args, new Engine());
      case 'clear-caches':
        if (args.cacheDir) mkdirSync(args.cacheDir, { recursive: true });
        await clearCaches(args, new Engine());
        return 0;
      case 'export':
        await exportModel(args, new Engine());
        return 0;
    }
  } catch (error) {
    fail(error instanceof CliError ? error : new CliError(EngineFailure.from(error).message), json);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`phasic-trace: internal error: ${(error as Error).stack ?? error}\n`);
      process.exit(70);
    },
  );
}
