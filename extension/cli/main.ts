// phasic-trace: the engine from the command line (docs/engine.md, "Command line").
// Exit status: 0 on success, 1 when the model or the engine fails (or --timeout
// stops a run), 2 on a usage error, 130 when Ctrl-C stops a run, 141 when the reader
// of the output goes away (as for a tool killed by SIGPIPE).
import { realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Engine, EngineFailure } from '../engine/engine';
import { fitSfs } from '../fit/fit';
import { FitError } from '../fit/likelihood';
import { parseSfs, SfsFileError, type Spectrum } from '../fit/sfsFile';
import type { ClearResult, DistributionResult, RunSummary } from '../protocol/engine';
import { type FitOutcome, logWaldInterval, wireFit } from '../protocol/fit';
import { formatBytes, formatMs, formatNumber, formatQuantile, formatShortNumber } from '../protocol/format';
import { formatMoment, type Moment, nonFiniteSummary, nonFiniteWord } from '../protocol/moment';
import {
  type Args,
  type CheckArgs,
  type ClearArgs,
  type DistArgs,
  type ExportArgs,
  type FitArgs,
  type ModelRunArgs,
  type Grid,
  parseArgs,
  type RunArgs,
  USAGE,
  UsageError,
} from './args';
import { publicClear, publicDistribution, publicFit, publicRun } from './contract';
import { fileErrorReason, readInputFile } from '../engine/inputFile';
import { CliError, checkModel, checkParamBounds, type LoadedModel, loadModel } from './model';
import { escapeControls, exitWhenDrained, guardOutput, jsonText, print, printError } from './output';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'phasic-trace');
}

const MB = 1024 * 1024;

/** An engine failure, placed in the model's source when it names a site. */
function placed(error: unknown, model: LoadedModel): CliError {
  if (error instanceof CliError) return error;
  const failure = EngineFailure.from(error);
  const site = failure.site >= 0 ? model.sites[failure.site] : undefined;
  const detail = failure.field ? ` (at ${failure.field})` : '';
  return new CliError(
    failure.message + detail,
    model.file,
    site ? site[0] + 1 : undefined,
    site ? site[1] + 1 : undefined,
  );
}

/** The run with every name and message from the model escaped for a terminal. */
function forTerminal(r: RunSummary): RunSummary {
  const keys = <T>(record: Record<string, T>) =>
    Object.fromEntries(Object.entries(record).map(([k, v]) => [escapeControls(k), v]));
  return {
    ...r,
    model: escapeControls(r.model),
    params: keys(r.params),
    moments: keys(r.moments),
    variance: keys(r.variance),
    covariance: keys(r.covariance),
    ...(r.gradient === undefined
      ? {}
      : {
          gradient: Object.fromEntries(
            Object.entries(r.gradient).map(([k, byParam]) => [escapeControls(k), keys(byParam)]),
          ),
        }),
    ...(r.gradientVariance === undefined
      ? {}
      : {
          gradientVariance: Object.fromEntries(
            Object.entries(r.gradientVariance).map(([k, byParam]) => [escapeControls(k), keys(byParam)]),
          ),
        }),
    ...(r.gradientCovariance === undefined
      ? {}
      : {
          gradientCovariance: Object.fromEntries(
            Object.entries(r.gradientCovariance).map(([k, byParam]) => [escapeControls(k), keys(byParam)]),
          ),
        }),
    warnings: r.warnings.map((w) => ({ ...w, message: escapeControls(w.message) })),
  };
}

/**
 * `E[tmrca] and Var(tmrca) are infinite: <the engine's reason>`, one line per kind. A
 * non-finite answer is still an answer (an infinite expectation is correct), so the run
 * exits 0 and says so on stderr; --json carries the reason as `nonFinite`.
 */
function nonFiniteWarnings(r: RunSummary): string[] {
  return nonFiniteSummary(r).map((what) => `phasic-trace: warning: ${what}: ${r.nonFinite ?? 'not finite'}`);
}

function describeRun(r: RunSummary): string {
  const lines = [
    `${r.model}: ${r.vertices} vertices, ${r.edges} edges, ${r.absorbing} absorbing`,
    `components: ${r.sccs.count} (largest ${r.sccs.largest}); blocks: ${r.sccs.blocks} (${r.sccs.recorded} recorded, ${r.sccs.cached} cached)` +
      (r.reused ? '; unchanged model: the cached run was reused' : ''),
    `trace: ${r.trace.operations} operations, ${r.trace.commands} commands, ${r.trace.bytes} bytes`,
    `params: ${
      Object.entries(r.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || '(none)'
    }`,
  ];
  // Non-finite values print as "infinite", "undefined" or "out of range"; why is on stderr (nonFiniteWarnings).
  const show = (m: Moment) => nonFiniteWord(m, r.nonFiniteCause) ?? String(m);
  for (const [reward, moments] of Object.entries(r.moments)) {
    lines.push(
      `${reward}: ${moments.map((m, i) => `E[R^${i + 1}]=${show(m)}`).join(' ')} Var=${show(r.variance[reward])}`,
    );
  }
  for (const [pair, v] of Object.entries(r.covariance)) lines.push(`Cov(${pair}) = ${show(v)}`);
  if (r.gradient) {
    lines.push('gradient (d/dθ of each moment and of the variance):');
    for (const [reward, byParam] of Object.entries(r.gradient))
      for (const [param, ds] of Object.entries(byParam))
        lines.push(
          `  ${reward} by ${param}: ${ds.map((d, i) => `dE[R^${i + 1}]=${show(d)}`).join(' ')} dVar=${show(r.gradientVariance?.[reward]?.[param] ?? 'NaN')}`,
        );
    for (const [pair, byParam] of Object.entries(r.gradientCovariance ?? {}))
      for (const [param, d] of Object.entries(byParam)) lines.push(`  Cov(${pair}) by ${param}: dCov=${show(d)}`);
  }
  const t = r.timingsMs;
  lines.push(
    `time: ${t.total.toFixed(1)} ms (explore ${t.explore.toFixed(1)}, scc ${t.scc.toFixed(1)}, record ${t.record.toFixed(1)}, evaluate ${t.evaluate.toFixed(2)}${t.gradient === undefined ? '' : `, gradient ${t.gradient.toFixed(2)}`})`,
  );
  lines.push(
    `memory: peak ${formatBytes(r.memory.peakAccountedBytes)} accounted, rss ${formatBytes(r.memory.rssBytes)}`,
  );
  for (const w of r.warnings) lines.push(`warning: ${w.message}`);
  return lines.join('\n');
}

/** The longest delay setTimeout takes; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `expire` after `seconds`, however long that is (in timer-sized steps). */
function deadline(seconds: number, expire: () => void): { cancel(): void } {
  const end = performance.now() + seconds * 1000;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = end - performance.now();
    if (left <= 0) expire();
    else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}

/** Exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells expect. */
const INTERRUPTED = 130;

/** What `stoppable` returns when Ctrl-C stopped the work (the error is already printed). */
const STOPPED = Symbol('interrupted');

/**
 * Runs `work` with a signal that --timeout and Ctrl-C abort. The engine stops at its
 * next cancellation check, frees what the run built and keeps its caches consistent;
 * the process then exits normally.
 */
async function stoppable<T>(
  args: ModelRunArgs,
  model: LoadedModel,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T | typeof STOPPED> {
  const stop = new AbortController();
  const timer =
    args.timeoutSeconds === undefined ? undefined : deadline(args.timeoutSeconds, () => stop.abort('timeout'));
  const interrupt = () => stop.abort('interrupt');
  process.once('SIGINT', interrupt);
  try {
    return await work(stop.signal);
  } catch (error) {
    if (stop.signal.reason === 'timeout')
      throw new CliError(`the run took longer than --timeout ${args.timeoutSeconds} s and was stopped`, model.file);
    if (stop.signal.reason === 'interrupt') {
      fail(new CliError('interrupted; the run was stopped', model.file), args.json);
      return STOPPED;
    }
    throw placed(error, model);
  } finally {
    timer?.cancel();
    process.off('SIGINT', interrupt);
  }
}

function configureCache(engine: Engine, args: ModelRunArgs): void {
  engine.configure({
    cacheDir: args.noCache ? '' : (args.cacheDir ?? defaultCacheDir()),
    memoryBudgetBytes: args.memoryBudgetMB * MB,
  });
}

async function run(args: RunArgs, engine: Engine): Promise<number> {
  // Only what is printed is kept: a run (even without its decomposition) is kilobytes,
  // which --repeat would otherwise hold for every run until the end.
  const printed: string[] = [];
  let warnings: string[] = [];
  const model = loadModel(args.model, args.overrides);
  checkParamBounds(model, args.params);
  configureCache(engine, args);
  const done = await stoppable(args, model, async (signal) => {
    for (let i = 0; i < args.repeat; i++) {
      const r = await engine.runSummary(model.engineText, {
        maxStates: args.maxStates,
        minSccSize: args.minScc,
        moments: args.moments,
        covariances: args.covariances,
        params: args.params,
        gradient: args.gradient,
        signal,
      });
      if (args.json) printed.push(jsonText(JSON.stringify(publicRun(r))));
      else printed.push((args.repeat > 1 ? `run ${i + 1}\n` : '') + describeRun(forTerminal(r)));
      if (!args.json && i === 0) warnings = nonFiniteWarnings(r).map(escapeControls);
    }
  });
  if (done === STOPPED) return INTERRUPTED;
  if (args.json) print(args.repeat === 1 ? printed[0] : `{"runs":[${printed.join(',')}]}`);
  else {
    print(printed.join('\n\n'));
    if (warnings.length) printError(warnings.join('\n'));
  }
  return 0;
}

/** The times of `--grid FROM:TO:N`: N equally spaced, both ends exact. */
export function gridTimes(grid: Grid): number[] {
  const { from, to, points } = grid;
  const span = to - from;
  // One rounding per point: 0:6:13 gives exactly 0, 0.5, ..., 6. Where span·i passes
  // the largest double (TO near 1.8e308) the step is divided first, two roundings: the
  // product was Infinity, which the engine refused as "times[2]", a time never typed.
  return Array.from({ length: points }, (_, i) => {
    if (i === points - 1) return to;
    const scaled = span * i;
    return from + (Number.isFinite(scaled) ? scaled / (points - 1) : (span / (points - 1)) * i);
  });
}

/** The human form prints every point up to this many, else every k-th. */
const TABLE_ROWS = 50;

/** Right-aligned columns under their headers. */
function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padStart(widths[c])).join('  ');
  return [line(headers), ...rows.map(line)];
}

function describeDistribution(model: string, d: DistributionResult, run: RunSummary): string {
  const reward = escapeControls(d.reward);
  const params =
    Object.entries(d.params)
      .map(([k, v]) => `${escapeControls(k)}=${formatNumber(v)}`)
      .join(' ') || '(none)';
  const lines = [`${escapeControls(model)}: distribution of ${reward}`, `params: ${params}`];
  const mean = run.moments[d.reward]?.[0];
  const variance = run.variance[d.reward];
  if (mean !== undefined && variance !== undefined) {
    const sd = typeof variance === 'number' ? Math.sqrt(Math.max(variance, 0)) : variance;
    const show = (m: Moment) => formatMoment(m, formatNumber, run.nonFiniteCause);
    lines.push(`mean: ${show(mean)}, sd: ${show(sd)}`);
  }
  if (d.atom > 0) lines.push(`atom: P(${reward} = 0) = ${formatNumber(d.atom)}`);
  if (d.quantiles.length > 0) {
    lines.push('quantiles:');
    lines.push(
      ...table(
        ['p', 'value'],
        // A p within 5e-11 of 1 reads as 1 in ten figures: shown as given.
        d.quantiles.map((q) => [formatNumber(q.p) === '1' ? String(q.p) : formatNumber(q.p), formatQuantile(q)]),
      ).map((l) => `  ${l}`),
    );
  }
  const m = d.method;
  lines.push(
    `error bound: ${d.epsilon} on every CDF value, ${d.epsilon} × itself on every survival and density value (${m.name}: rate ${formatNumber(m.rate)}, ${m.steps} steps, ${m.states} states, ${m.eliminated} eliminated)`,
  );
  const t = d.timingsMs;
  lines.push(
    `time: ${formatMs(t.total)} (transform ${formatMs(t.transform)}, uniformize ${formatMs(t.uniformize)}, quantiles ${formatMs(t.quantiles)}) after the run's ${formatMs(run.timingsMs.total)}`,
  );
  // A repeated time repeats its row (the default grid of a reward that is 0 with
  // probability 1 is 200 times t = 0): each time is shown once.
  const n = d.times.length;
  const distinct = d.times.flatMap((time, i) => (i === 0 || time !== d.times[i - 1] ? [i] : []));
  const every = Math.ceil(distinct.length / TABLE_ROWS);
  const shown = distinct.filter((_, j) => j % every === 0);
  const last = distinct[distinct.length - 1];
  if (last !== undefined && shown[shown.length - 1] !== last) shown.push(last);
  lines.push(
    '',
    ...table(
      ['t', 'CDF', 'survival', 'density'],
      shown.map((i) => {
        const survival = d.survival[i];
        // Below the floor neither is resolved: say so, never print 0 as if exact.
        if (survival === null)
          return [
            formatNumber(d.times[i]),
            formatNumber(d.cdf[i]),
            `< ${formatNumber(d.survivalFloor)}`,
            `< ${formatNumber(d.method.rate * d.survivalFloor)}`,
          ];
        return [formatNumber(d.times[i]), formatNumber(d.cdf[i]), formatNumber(survival), formatNumber(d.pdf[i])];
      }),
    ),
  );
  const repeats = distinct.length < n ? ` (${distinct.length} distinct)` : '';
  if (every > 1) lines.push(`${n} points${repeats}, one in ${every} shown; --json for all`);
  else if (repeats) lines.push(`${n} points${repeats}; --json for all`);
  return lines.join('\n');
}

/** Runs the model (or reuses its cached run), then asks for one reward's distribution. */
async function dist(args: DistArgs, engine: Engine): Promise<number> {
  const model = loadModel(args.model, args.overrides);
  checkParamBounds(model, args.params);
  configureCache(engine, args);
  const done = await stoppable(args, model, async (signal) => {
    const run = await engine.runSummary(model.engineText, {
      maxStates: args.maxStates,
      moments: 1,
      params: args.params,
      signal,
    });
    const distribution = await engine.distribution(run.traceKey, {
      reward: args.reward,
      params: run.params,
      times: args.grid ? gridTimes(args.grid) : args.times,
      quantiles: args.quantiles,
      epsilon: args.epsilon,
      signal,
    });
    return { run, distribution };
  });
  if (done === STOPPED) return INTERRUPTED;
  const { run: r, distribution: d } = done;
  // The run's own warnings (a start absorbed at once, a cache directory that cannot be
  // written) hold for the distribution too: it is that run's.
  const warnings = r.warnings.map((w) => w.message);
  if (args.json) print(jsonText(JSON.stringify(publicDistribution(r.model, r.timingsMs.total, d, warnings))));
  else {
    print(describeDistribution(r.model, d, r));
    if (warnings.length) printError(warnings.map((w) => `phasic-trace: warning: ${escapeControls(w)}`).join('\n'));
  }
  return 0;
}

/** The .fs file, or a CliError at its line and column. */
function loadSpectrum(file: string): Spectrum {
  let text: string;
  try {
    text = readInputFile(file);
  } catch (error) {
    throw new CliError((error as Error).message, file);
  }
  try {
    return parseSfs(text);
  } catch (error) {
    if (error instanceof SfsFileError) throw new CliError(error.message, file, error.line, error.column);
    throw error;
  }
}

/** A value ± its standard error, or why there is none. */
function withError(value: number, se: number): string {
  if (se === Infinity) return `${formatShortNumber(value)} (not identifiable: no standard error)`;
  const interval = logWaldInterval(value, se);
  if (!Number.isFinite(se) || !interval) return `${formatShortNumber(value)} (no standard error)`;
  const [low, high] = interval;
  return `${formatShortNumber(value)} ± ${formatShortNumber(se)}  (95% interval ${formatShortNumber(low)} to ${formatShortNumber(high)})`;
}

function describeFit(f: FitOutcome, args: FitArgs, spectrum: Spectrum): string {
  const fixed = Object.entries(f.params)
    .filter(([k]) => !args.fit.includes(k))
    .map(([k, v]) => `${escapeControls(k)}=${formatShortNumber(v)}`)
    .join(' ');
  const used = f.observed.filter((x) => x !== null).length;
  const lines = [
    `${escapeControls(f.model)}: fit to ${escapeControls(args.data)} (n = ${spectrum.n}, ${spectrum.folded ? 'folded' : 'unfolded'}, ${formatShortNumber(f.sites)} sites in ${used} entries)`,
    ...args.fit.map((p) => `  ${escapeControls(p)} = ${withError(f.estimates[p], f.stderr[p])}`),
    `log-likelihood: ${formatShortNumber(f.loglik)}; scale ${formatShortNumber(f.scale)} (entry k+1 expects scale × E[${escapeControls(args.sfsReward)}[k]] sites)`,
    f.converged ? `converged in ${f.iterations} iterations` : `did not converge (${f.iterations} iterations)`,
  ];
  if (fixed) lines.push(`fixed: ${fixed}`);
  lines.push('');
  const rows = f.expected.flatMap((e, i) => {
    const o = f.observed[i];
    if (e === null && o === null) return [];
    return [[String(i), o === null ? 'masked' : formatShortNumber(o), e === null ? '-' : formatShortNumber(e)]];
  });
  lines.push(...table(['entry', 'observed', 'expected'], rows));
  const t = f.timingsMs;
  lines.push(
    '',
    `time: ${formatMs(t.total)} (run ${formatMs(t.run)}, optimize ${formatMs(t.optimize)}, information ${formatMs(t.information)})`,
  );
  return lines.join('\n');
}

/** Runs the model once, then fits the spectrum on its cached trace. */
async function fitSpectrum(args: FitArgs, engine: Engine): Promise<number> {
  const spectrum = loadSpectrum(args.data);
  const model = loadModel(args.model, args.overrides);
  checkParamBounds(model, args.params);
  configureCache(engine, args);
  const done = await stoppable(args, model, async (signal) => {
    try {
      return await fitSfs(engine, {
        engineText: model.engineText,
        bounds: model.bounds,
        spectrum,
        sfsReward: args.sfsReward,
        fit: args.fit,
        start: args.start,
        params: args.params,
        starts: args.starts,
        maxStates: args.maxStates,
        signal,
      });
    } catch (error) {
      if (error instanceof FitError) throw new CliError(error.message, error.about === 'data' ? args.data : model.file);
      throw error;
    }
  });
  if (done === STOPPED) return INTERRUPTED;
  if (args.json) print(jsonText(JSON.stringify(publicFit(wireFit(done, [])))));
  else {
    print(describeFit(done, args, spectrum));
    if (done.warnings.length)
      printError(done.warnings.map((w) => `phasic-trace: warning: ${escapeControls(w)}`).join('\n'));
  }
  return 0;
}

function check(args: CheckArgs): number {
  const diagnostics = checkModel(args.model);
  if (args.json) {
    print(
      jsonText(
        JSON.stringify({
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
        }),
      ),
    );
  } else {
    for (const d of diagnostics)
      print(
        `${escapeControls(args.model)}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity}: ${escapeControls(d.message)}`,
      );
  }
  return diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
}

/**
 * 0 when the whole disk cache went; 1, saying what stayed and why, when part of it could
 * not. A failure prints nothing on stdout: "removed 0 cache files" beside "cannot read the
 * cache directory" read as a result. What a partial clear did remove is said in the error.
 */
async function clearCaches(args: ClearArgs, engine: Engine): Promise<number> {
  const dir = args.cacheDir ?? defaultCacheDir();
  engine.configure({ cacheDir: dir });
  const result: ClearResult = await engine.clearCaches();
  const { files, bytes, failed, error } = result.disk;
  if (args.json) print(jsonText(JSON.stringify(publicClear(result))));
  else if (error === undefined) print(`removed ${files} cache files (${bytes} bytes) from ${escapeControls(dir)}`);
  if (error === undefined) return 0;
  if (!args.json) {
    const left = failed > 0 ? `${failed} cache file${failed === 1 ? '' : 's'} could not be removed: ` : '';
    const removed = files > 0 ? `; ${files} cache file${files === 1 ? ' was' : 's were'} removed (${bytes} bytes)` : '';
    printError(`phasic-trace: the cache was not cleared: ${left}${escapeControls(error)}${removed}`);
  }
  return 1;
}

/**
 * Writes `text` to the file --out names. A regular file (or a new one) is replaced whole
 * or not at all: written beside it and renamed over it, through any symbolic link to the
 * file it names. Anything else that can be written (a pipe, /dev/stdout, a FIFO, a
 * terminal) is written into: renaming over it replaced the link /dev/stdout itself with
 * a regular file (as root), and a FIFO with a file no reader would see.
 */
function writeOutput(file: string, text: string): void {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    replaceFile(file, text);
    return;
  }
  if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  if (stat.isFile()) replaceFile(realpathSync(file), text);
  else writeFileSync(file, text);
}

function replaceFile(file: string, text: string): void {
  // Not crypto's randomBytes: loading node:crypto was 17 ms of every CLI start (issue
  // 15). The name only has to differ from other writers'; 'wx' never clobbers one.
  const tag = Math.floor(Math.random() * 0x100000000)
    .toString(16)
    .padStart(8, '0');
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${tag}.tmp`);
  try {
    writeFileSync(temp, text, { flag: 'wx' });
    renameSync(temp, file);
  } catch (error) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // The write's own error is the one to report.
    }
    throw error;
  }
}

async function exportModel(args: ExportArgs, engine: Engine): Promise<void> {
  const model = loadModel(args.model, args.overrides);
  engine.configure({ memoryBudgetBytes: args.memoryBudgetMB * MB });
  let text: string;
  try {
    text = jsonText(await engine.exportPhasicJson(model.engineText, args.maxStates));
  } catch (error) {
    throw placed(error, model);
  }
  if (args.out) {
    try {
      writeOutput(args.out, text + '\n');
    } catch (error) {
      throw new CliError(`cannot write ${args.out}: ${fileErrorReason(error)}`, args.out);
    }
  } else print(text);
}

function fail(error: CliError, json: boolean): void {
  if (json) {
    const e: Record<string, unknown> = { message: error.message };
    if (error.file !== undefined) e.file = error.file;
    if (error.line !== undefined) e.line = error.line;
    if (error.column !== undefined) e.column = error.column;
    print(jsonText(JSON.stringify({ error: e })));
  } else {
    const where = [error.file, error.line, error.column].filter((x) => x !== undefined).join(':');
    printError(`phasic-trace: ${escapeControls(where ? where + ': ' : '')}${escapeControls(error.message)}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    printError(`phasic-trace: ${escapeControls(error.message)}\n${USAGE}`);
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
      case 'dist':
        return await dist(args, new Engine());
      case 'fit':
        return await fitSpectrum(args, new Engine());
      case 'clear-caches':
        return await clearCaches(args, new Engine());
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
  guardOutput();
  main(process.argv.slice(2)).then(
    (code) => exitWhenDrained(code),
    (error) => {
      printError(
        `phasic-trace: internal error: ${String((error as Error).stack ?? error)
          .split('\n')
          .map(escapeControls)
          .join('\n')}`,
      );
      return exitWhenDrained(70);
    },
  );
}
