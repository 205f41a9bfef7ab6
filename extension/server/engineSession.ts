// The engine's session in the engine process (the language server): runs (queued,
// cancellable), evaluation, Clear Caches and memory figures, with errors turned into
// messages that point at the model's source. One per process, made at initialize.
import { type CancellationToken, type Diagnostic, ResponseError, type TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { Engine, EngineFailure } from '../engine/engine';
import { fitSfs } from '../fit/fit';
import { FitError } from '../fit/likelihood';
import { parseSfs, SfsFileError } from '../fit/sfsFile';
import type {
  ClearResult,
  DistributionResult,
  EvaluateResult,
  FitResult,
  FitStep,
  MemorySnapshot,
  RunResult,
  SpectrumSummary,
} from '../protocol/engine';
import type {
  DistributionParams,
  EngineErrorData,
  EngineInfo,
  EngineNotifications,
  EngineSettings,
  EvaluateParams,
  FitParams,
  ModelSpec,
  RunParams,
  RunReply,
  SccDetailParams,
} from '../protocol/requests';
import type { SccDetail } from '../protocol/webview';
import { wireFit, wireSpectrum } from '../protocol/fit';
import { MemorySampler } from './memorySampler';
import { ModelError, Preparations, type PreparedModel, sourceOf } from './models';
import { Cancelled, RunQueue, Superseded } from './runQueue';

type Notify = <M extends keyof EngineNotifications>(method: M, params: EngineNotifications[M]) => void;

const startedAt = Date.now();

export class EngineSession {
  private readonly engine = new Engine();
  private readonly queue = new RunQueue();
  private readonly sampler: MemorySampler;
  private readonly runs = new Map<string, RunResult>();
  /** A run's findings, with the source text they were found in (their ranges are its). */
  private readonly engineDiagnostics = new Map<string, { source: string; diagnostics: Diagnostic[] }>();
  /** The source text each prepared model was made from. */
  private readonly sources = new WeakMap<PreparedModel, string>();

  constructor(
    private settings: EngineSettings,
    private readonly documents: TextDocuments<TextDocument>,
    private readonly notify: Notify,
    /** Republishes a document's diagnostics and lenses (the language features'). */
    private readonly refreshDocument: (uri: string) => void,
    private readonly preparations = new Preparations(),
  ) {
    this.configure(settings);
    this.sampler = new MemorySampler(
      () => this.engine.memory(),
      (s) => notify('phasic/memorySample', s),
    );
  }

  info(): EngineInfo {
    return { version: this.engine.version(), pid: process.pid, startedAt };
  }

  configure(settings: EngineSettings): void {
    this.settings = settings;
    this.engine.configure({
      cacheDir: settings.cacheDirectory,
      maxDiskBytes: settings.maxDiskBytes,
      memoryBudgetBytes: settings.memoryBudgetBytes,
    });
  }

  startSampling(): void {
    this.sampler.start();
  }

  lastRun(uri: string): RunResult | undefined {
    return this.runs.get(uri);
  }

  /**
   * The last run's findings while the document still holds the text that run read. After
   * an edit (also one made while the run was under way) their lines and columns point
   * into a text that is gone: an error stayed on line 7 after lines were added above it.
   */
  diagnosticsFor(uri: string): Diagnostic[] {
    const found = this.engineDiagnostics.get(uri);
    if (!found) return [];
    const open = this.documents.get(uri);
    return open && open.getText() !== found.source ? [] : found.diagnostics;
  }

  memory(): MemorySnapshot {
    return this.engine.memory();
  }

  async describe(uri: string, overrides: Record<string, number>): Promise<ModelSpec> {
    return (await this.prepare(uri, overrides, 'describe')).spec;
  }

  async run(params: RunParams, token: CancellationToken): Promise<RunReply> {
    const cancel = abortOn(token);
    const preparing = this.prepare(params.uri, params.overrides, 'run');
    let prepared: PreparedModel | undefined;
    try {
      const { spec, result } = await this.queue.run(params.uri, cancel.signal, preparing, async (model, signal) => {
        prepared = model;
        this.sampler.runStarted();
        try {
          const result = await this.engine.run(model.engineText, {
            maxStates: this.settings.maxStates,
            minSccSize: this.settings.minSccSize,
            moments: params.moments,
            covariances: params.covariances,
            params: params.params ?? {},
            gradient: params.gradient ?? false,
            signal,
            onProgress: (progress) => this.notify('phasic/progress', { runId: params.runId, progress }),
            onBlockEvent: (event) => this.notify('phasic/blockEvent', event),
          });
          return { spec: model.spec, result };
        } finally {
          this.sampler.runEnded();
        }
      });
      this.runs.set(params.uri, result);
      this.setEngineDiagnostics(
        params.uri,
        prepared,
        // A warning about the model as a whole (it has no site) goes on its first line.
        result.warnings.map((w) => ({
          range: siteRange(prepared, w.site) ?? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
          severity: 2,
          source: 'phasic engine',
          code: 'exploration-warning',
          message: w.message,
        })),
      );
      return { model: spec, result };
    } catch (error) {
      throw this.toResponseError(error, params.uri, prepared);
    } finally {
      cancel.dispose();
    }
  }

  async evaluate(params: EvaluateParams): Promise<EvaluateResult> {
    try {
      return await this.engine.evaluate(
        params.traceKey,
        params.params,
        params.moments,
        params.covariances,
        params.gradient ?? false,
      );
    } catch (error) {
      throw this.toResponseError(error);
    }
  }

  /**
   * The states and internal edges of one SCC of a run whose trace is cached. The
   * graph is not kept after a run (decision 5): the engine explores the model behind
   * the trace key again.
   */
  async sccDetail(params: SccDetailParams): Promise<SccDetail> {
    try {
      return await this.engine.sccDetail(params.traceKey, params.scc, params.params, this.settings.maxStates);
    } catch (error) {
      throw this.toResponseError(error);
    }
  }

  /**
   * The distribution of a reward of a run whose trace is cached, from the parametric
   * graph the engine keeps beside it (nothing is explored). Cancelled by the request's
   * token; it does not wait in the run queue, as the engine thread serializes it.
   */
  async distribution(params: DistributionParams, token: CancellationToken): Promise<DistributionResult> {
    const cancel = abortOn(token);
    try {
      const { traceKey, ...request } = params;
      return await this.engine.distribution(traceKey, { ...request, signal: cancel.signal });
    } catch (error) {
      throw this.toResponseError(error);
    } finally {
      cancel.dispose();
    }
  }

  /** A `.fs` file read as the fit will read it, so the host can show it (and its faults) before a fit. */
  spectrum(data: string): SpectrumSummary {
    try {
      return wireSpectrum(parseSfs(data));
    } catch (error) {
      if (error instanceof SfsFileError)
        throw new ResponseError(4, `${sfsPlace(error)}${error.message}`, {
          kind: 'argument',
        } satisfies EngineErrorData);
      throw this.toResponseError(error);
    }
  }

  /**
   * Fits parameters to a site frequency spectrum: the model runs as `run` runs it
   * (same queue, so a fit waits for a run and a newer fit of the same model
   * supersedes it), then every optimizer step evaluates the cached trace with its
   * gradient. The sampler counts it as a run, so the ledger's samples come as often
   * as during a run. Cancelled by the request's token between evaluations.
   */
  async fit(params: FitParams, token: CancellationToken): Promise<FitResult> {
    const cancel = abortOn(token);
    let prepared: PreparedModel | undefined;
    try {
      const spectrum = parseSfs(params.data);
      const preparing = this.prepare(params.uri, params.overrides, 'run');
      return await this.queue.run(`fit ${params.uri}`, cancel.signal, preparing, async (model, signal) => {
        prepared = model;
        this.sampler.runStarted();
        const steps: FitStep[] = [];
        try {
          const result = await fitSfs(this.engine, {
            engineText: model.engineText,
            bounds: model.spec.params,
            spectrum,
            sfsReward: params.sfsReward,
            fit: params.fit,
            start: params.start,
            params: params.params,
            maxStates: this.settings.maxStates,
            signal,
            onProgress: ({ start, iteration, loglik, estimates }) => {
              if (!Number.isFinite(loglik)) return;
              const step = { start, iteration, loglik, estimates };
              steps.push(step);
              this.notify('phasic/fitProgress', { fitId: params.fitId, step });
            },
          });
          return wireFit(result, steps);
        } finally {
          this.sampler.runEnded();
        }
      });
    } catch (error) {
      if (cancel.signal.aborted && !(error instanceof Superseded))
        throw new ResponseError(-32800, 'the fit was cancelled', { kind: 'cancelled' } satisfies EngineErrorData);
      if (error instanceof SfsFileError)
        throw new ResponseError(4, `the data: ${sfsPlace(error)}${error.message}`, {
          kind: 'argument',
        } satisfies EngineErrorData);
      if (error instanceof FitError)
        throw new ResponseError(4, error.message, {
          kind: error.about === 'data' ? 'argument' : 'model',
          uri: error.about === 'model' ? params.uri : undefined,
        } satisfies EngineErrorData);
      throw this.toResponseError(error, params.uri, prepared);
    } finally {
      cancel.dispose();
    }
  }

  async clearCaches(): Promise<ClearResult> {
    const result = await this.engine.clearCaches();
    this.sampler.tick();
    return result;
  }

  dispose(): void {
    this.sampler.stop();
  }

  private async prepare(
    uri: string,
    overrides: Record<string, number>,
    use: 'describe' | 'run' | 'once' = 'once',
  ): Promise<PreparedModel> {
    try {
      const source = await sourceOf(uri, this.documents);
      const model = this.preparations[use](uri, source, overrides);
      this.sources.set(model, source);
      return model;
    } catch (error) {
      throw this.toResponseError(error, uri);
    }
  }

  /** Engine findings join the language diagnostics; the lenses show the last run. */
  private setEngineDiagnostics(uri: string, prepared: PreparedModel | undefined, diagnostics: Diagnostic[]): void {
    const source = prepared && this.sources.get(prepared);
    if (source === undefined) this.engineDiagnostics.delete(uri);
    else this.engineDiagnostics.set(uri, { source, diagnostics });
    this.refreshDocument(uri);
  }

  /** Every failure leaves this process as a ResponseError whose data says what kind it was. */
  private toResponseError(error: unknown, uri?: string, prepared?: PreparedModel): ResponseError<EngineErrorData> {
    if (error instanceof ResponseError) return error; // already said: a model that could not be read
    if (error instanceof Superseded || error instanceof Cancelled)
      return new ResponseError(-32800, error.message, { kind: 'cancelled' });
    if (error instanceof ModelError) return new ResponseError(1, error.message, { kind: 'model', uri });
    if (error instanceof EngineFailure) {
      if (error.kind === 'cancelled') return new ResponseError(-32800, error.message, { kind: 'cancelled' });
      const range = siteRange(prepared, error.site);
      if (uri && range) {
        this.setEngineDiagnostics(uri, prepared, [
          { range, severity: 1, source: 'phasic engine', code: 'exploration', message: error.message },
        ]);
      }
      return new ResponseError(2, error.message, { kind: error.kind, uri, range, rule: error.rule });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new ResponseError(3, message, { kind: 'engine', uri });
  }
}

/** The source range of a compiled-model site, when the model has one there. */
/** "line 2, column 7: " before a `.fs` file's fault, as much of it as the fault has. */
function sfsPlace(error: SfsFileError): string {
  if (!error.line) return '';
  return error.column ? `line ${error.line}, column ${error.column}: ` : `line ${error.line}: `;
}

function siteRange(prepared: PreparedModel | undefined, site: number | undefined): Diagnostic['range'] | undefined {
  const s = site !== undefined && site >= 0 ? prepared?.sites[site] : undefined;
  return s ? { start: { line: s[0], character: s[1] }, end: { line: s[2], character: s[3] } } : undefined;
}

/**
 * An AbortSignal that follows a request's token. A $/cancelRequest that arrives before
 * its request is dispatched makes vscode-jsonrpc hand the handler the shared
 * `CancellationToken.Cancelled`, whose event never fires: listening alone would let
 * such a request run to the end (a distribution for minutes, a fit to convergence).
 */
function abortOn(token: CancellationToken): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) {
    controller.abort();
    return { signal: controller.signal, dispose: () => undefined };
  }
  const subscription = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => subscription.dispose() };
}
