// The typed engine: the native addon behind the result types of protocol/engine.ts.
// One Engine object per process is enough (the addon holds one engine and its caches);
// several objects share it.
import type {
  BlockEvent,
  ClearResult,
  DistributionResult,
  EvaluateResult,
  MemorySnapshot,
  Progress,
  RunPhase,
  RunResult,
  RunSummary,
  SccDetail,
} from '../protocol/engine';
import { type DistributionParams, type FailureKind, NATIVE_FAILURE_KINDS } from '../protocol/requests';
import { loadAddon, type NativeAddon, type NativeConfig, type NativeRunOptions } from './addon';

export type EngineConfig = NativeConfig;

/** A run's request (the decomposition is chosen by run or runSummary), its cancel signal and progress. */
export interface RunOptions extends Omit<NativeRunOptions, 'decomposition'> {
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  onBlockEvent?: (event: BlockEvent) => void;
}

/**
 * A distribution request: the language server's `phasic/distribution` parameters
 * (schema/requests.ts, where each field is documented) for the trace key given
 * beside them, and the call's cancel signal and progress.
 */
export interface DistributionRequest extends Omit<DistributionParams, 'traceKey'> {
  signal?: AbortSignal;
  /** Progress of the 'distribution' phase: uniformization steps done of those needed so far. */
  onProgress?: (progress: Progress) => void;
}

const NATIVE_KINDS: ReadonlySet<string> = new Set<string>(NATIVE_FAILURE_KINDS);

/** A failed engine call. `site` indexes the compiled model's `sites` (-1: none). */
export class EngineFailure extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly site: number = -1,
    readonly rule: string = '',
    readonly field: string = '',
  ) {
    super(message);
    this.name = 'EngineFailure';
  }

  static from(error: unknown): EngineFailure {
    if (error instanceof EngineFailure) return error;
    if (error instanceof Error) {
      const e = error as Error & { kind?: string; site?: number; rule?: string; field?: string };
      const kind = e.kind !== undefined && NATIVE_KINDS.has(e.kind) ? (e.kind as FailureKind) : 'engine';
      return new EngineFailure(e.message, kind, e.site ?? -1, e.rule ?? '', e.field ?? '');
    }
    return new EngineFailure(String(error), 'engine');
  }
}

/**
 * The addon reads 0 as "no limit"; a limit reaching it as 0 (an unset or mistyped
 * setting) would let an unbounded model grow until the OS kills the process.
 */
function atLeastOne(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer ≥ 1 (got ${value})`);
}

let nextRunId = 1;

export class Engine {
  private readonly addon: NativeAddon;

  constructor(addon: NativeAddon = loadAddon()) {
    this.addon = addon;
  }

  version(): string {
    return this.addon.version();
  }

  configure(config: EngineConfig): void {
    if (config.memoryBudgetBytes !== undefined) atLeastOne('memoryBudgetBytes', config.memoryBudgetBytes);
    this.addon.configure(config);
  }

  memory(): MemorySnapshot {
    return JSON.parse(this.addon.memory()) as MemorySnapshot;
  }

  /** Runs a model (compiled-model JSON or phasic graph JSON text). */
  async run(modelText: string, options: RunOptions = {}): Promise<RunResult> {
    return (await this.runAsked(modelText, options, true)) as RunResult;
  }

  /**
   * A run without its decomposition: the engine never writes the SCCs and the
   * condensation's edges, on large models most of a RunResult's bytes (rabbits
   * N = 1000: 5 MB), for a caller that does not show them.
   */
  async runSummary(modelText: string, options: RunOptions = {}): Promise<RunSummary> {
    return this.runAsked(modelText, options, false);
  }

  private async runAsked(modelText: string, options: RunOptions, decomposition: boolean): Promise<RunSummary> {
    const { signal, onProgress, onBlockEvent, ...asked } = options;
    const native = { ...asked, decomposition };
    if (native.maxStates !== undefined) atLeastOne('maxStates', native.maxStates);
    // The engine holds it in 32 bits; a larger value must not wrap round to a small one.
    if (native.minSccSize !== undefined && !(native.minSccSize <= 0xffff_ffff))
      throw new EngineFailure(`minSccSize must be at most 4294967295 (got ${native.minSccSize})`, 'argument');
    if (signal?.aborted) throw new EngineFailure('the run was cancelled', 'cancelled');
    const runId = nextRunId++;
    const abort = () => this.addon.cancel(runId);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      const text = await this.addon.run(
        runId,
        modelText,
        native,
        onProgress && ((p) => onProgress({ phase: p.phase as RunPhase, done: p.done, total: p.total })),
        onBlockEvent && ((e) => onBlockEvent(e as BlockEvent)),
      );
      return JSON.parse(text) as RunSummary;
    } catch (error) {
      throw EngineFailure.from(error);
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  /** Evaluates a cached model trace at one parameter set. */
  async evaluate(
    traceKey: string,
    params: Record<string, number>,
    moments = 2,
    covariances: Array<[string, string]> = [],
    gradient = false,
  ): Promise<EvaluateResult> {
    return (await this.evaluateMany(traceKey, [params], moments, covariances, gradient))[0];
  }

  /** Evaluates a cached model trace at many parameter sets in one batched replay. */
  async evaluateMany(
    traceKey: string,
    params: Array<Record<string, number>>,
    moments = 2,
    covariances: Array<[string, string]> = [],
    gradient = false,
  ): Promise<EvaluateResult[]> {
    try {
      return JSON.parse(
        await this.addon.evaluate(traceKey, params, moments, covariances, gradient),
      ) as EvaluateResult[];
    } catch (error) {
      throw EngineFailure.from(error);
    }
  }

  /**
   * The distribution of the time to absorption or of a reward of the model whose
   * trace is cached under `traceKey`, at `params`, from the parametric graph the run
   * kept beside the trace: nothing is explored again. Fails with kind 'cache' when
   * the trace was evicted, 'argument' for a bad request, 'model' when absorption is
   * not certain at these parameters, 'cancelled' when `signal` aborts.
   */
  async distribution(traceKey: string, request: DistributionRequest): Promise<DistributionResult> {
    const { signal, onProgress, ...native } = request;
    if (signal?.aborted) throw new EngineFailure('the run was cancelled', 'cancelled');
    const runId = nextRunId++;
    const abort = () => this.addon.cancel(runId);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      const text = await this.addon.distribution(
        runId,
        traceKey,
        native,
        onProgress && ((p) => onProgress({ phase: p.phase as RunPhase, done: p.done, total: p.total })),
      );
      return JSON.parse(text) as DistributionResult;
    } catch (error) {
      throw EngineFailure.from(error);
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  async clearCaches(): Promise<ClearResult> {
    try {
      return JSON.parse(await this.addon.clearCaches()) as ClearResult;
    } catch (error) {
      throw EngineFailure.from(error);
    }
  }

  /**
   * One SCC of the model whose trace is cached under `traceKey`: its states, the
   * model's names for their cells, and its internal edges with their rates at
   * `params` (by name; others take the model's defaults). The engine explores the
   * model again (decision 5); a trace no longer cached fails with kind 'cache'.
   */
  async sccDetail(
    traceKey: string,
    scc: number,
    params: Record<string, number>,
    maxStates: number,
  ): Promise<SccDetail> {
    atLeastOne('maxStates', maxStates);
    try {
      return JSON.parse(await this.addon.sccDetail(traceKey, scc, params, maxStates)) as SccDetail;
    } catch (error) {
      throw EngineFailure.from(error);
    }
  }

  /** The model's explored graph as phasic's Graph.serialize() JSON text. */
  async exportPhasicJson(modelText: string, maxStates?: number): Promise<string> {
    if (maxStates !== undefined) atLeastOne('maxStates', maxStates);
    try {
      return await this.addon.exportPhasicJson(modelText, maxStates);
    } catch (error) {
      throw EngineFailure.from(error);
    }
  }
}
