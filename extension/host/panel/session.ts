// The host's side of the conversation with one Studio page, without `vscode`: what
// to send after `ready`, what to post live, and how to answer the page's requests.
// StudioPanel (studioPanel.ts) connects it to a real WebviewPanel; the tests drive it
// directly.
//
// Nothing is posted until the page says `ready` (VS Code drops messages to a page
// that is loading or hidden); `ready` brings a snapshot of the whole buffer, after
// which the page gets incremental messages until it goes away again (`detach`).
import type { BlockEvent, ClearResult, EvaluateResult, MemorySnapshot, RunResult } from '../../protocol/engine';
import { totalBytes } from '../../protocol/memory';
import {
  type DistributionResult,
  type FitData,
  type FitRecord,
  type FitResult,
  type FitStep,
  type HostMessage,
  MAX_ERROR_CHARS,
  type PanelModel,
  type PanelRun,
  parseWebviewMessage,
  type SccDetail,
  type StudioTab,
  type TimelineSample,
  type WebviewMessage,
} from '../../protocol/webview';
import type { MarkerInput, StudioBuffer } from './buffer';

/** What the panel asks of the rest of the extension. */
export interface PanelHost {
  /** Re-evaluates a cached composed trace at new parameters (never re-records). */
  evaluate(traceKey: string, params: Record<string, number>): Promise<EvaluateResult>;
  /** An SCC's states and internal edges, for the detail pane; optional. */
  sccDetail?(traceKey: string, scc: number, params: Record<string, number>): Promise<SccDetail>;
  /** Saves an exported SVG; returns the path written, undefined if cancelled. Default: a save dialog. */
  exportSvg?(svg: string): Promise<string | undefined>;
  /**
   * The distribution of one reward (`time` or a reward of the model) from a cached
   * trace (`phasic/distribution`); `signal` aborts when the page asks for another.
   */
  distribution?(
    traceKey: string,
    reward: string,
    params: Record<string, number>,
    signal: AbortSignal,
  ): Promise<DistributionResult>;
  /** Saves the Distribution view's charts (PNG bytes, signature checked); like exportSvg. */
  exportPng?(png: Uint8Array): Promise<string | undefined>;
  /** Saves the Distribution view's curves as CSV; like exportSvg. */
  exportCsv?(csv: string): Promise<string | undefined>;
  /**
   * Fits parameters to the data (`phasic/fit`); `onStep` after each optimizer step,
   * `signal` aborts at the page's Cancel or a newer fit.
   */
  fit?(request: FitRequest, onStep: (step: FitStep) => void, signal: AbortSignal): Promise<FitResult>;
  /** Where rejected webview messages are reported (the extension's output channel). */
  log?(message: string): void;
}

/** What the host sends the engine for a fit (`phasic/fit` without its id). */
export interface FitRequest {
  uri: string;
  overrides: Record<string, number>;
  /** The `.fs` file's text. */
  data: string;
  sfsReward: string;
  fit: string[];
  start: Record<string, number>;
  params: Record<string, number>;
}

/** The data of the Fit view and what the page never sees: the file's text and the model's constants. */
export interface FitSource {
  data: FitData;
  text: string;
  overrides: Record<string, number>;
}

/** Why a fit may not start, or ends: the panel's run is not the one made for the data. */
export const STALE_RUN =
  'The panel shows another run of the model than the one made for this data (other constants or an edited model); run the fit command again.';

/** Why the page may not start this fit: data and the model's run are there, the names and values are the model's. */
export function fitError(
  run: PanelRun | null,
  source: FitSource | null,
  m: Extract<WebviewMessage, { type: 'fit' }>,
): string | undefined {
  if (!source) return 'Choose a data file first (Phasic: Fit Parameters to Data).';
  if (!run || run.model.uri !== source.data.modelUri)
    return 'The panel no longer shows the model this data was chosen for; run the fit command again.';
  // The fit runs the model with the constants of the run made for the data, whatever the panel shows now.
  if (run.result.traceKey !== source.data.traceKey) return STALE_RUN;
  const refused = evaluationError(run, run.result.traceKey, m.params);
  if (refused) return refused;
  for (const name of m.fit) if (!run.model.params.some((p) => p.name === name)) return `Unknown parameter '${name}'.`;
  for (const [name, value] of Object.entries(m.start)) {
    if (!m.fit.includes(name)) return `A start value is given for '${name}', which is not fitted.`;
    if (!(value > 0)) return `The start value of '${name}' must be > 0 (the fit works on its logarithm).`;
  }
  const family = Object.keys(run.result.moments).filter((k) => k.startsWith(`${m.sfsReward}[`));
  if (family.length === 0) return `The model has no reward family '${m.sfsReward}'.`;
  return undefined;
}

/** Samples are posted in batches: engines may report many per second. */
export const SAMPLE_FLUSH_MS = 100;

/** Why the page may not evaluate this: only the current run's trace, at its model's parameters within bounds. */
export function evaluationError(
  run: PanelRun | null,
  traceKey: string,
  params: Record<string, number>,
): string | undefined {
  if (!run || run.result.traceKey !== traceKey) return 'That run is no longer current; run the model again.';
  for (const [name, value] of Object.entries(params)) {
    const spec = run.model.params.find((p) => p.name === name);
    if (!spec) return `Unknown parameter '${name}'.`;
    if (spec.lo !== null && value < spec.lo) return `Parameter '${name}' must be ≥ ${spec.lo}.`;
    if (spec.hi !== null && value > spec.hi) return `Parameter '${name}' must be ≤ ${spec.hi}.`;
  }
  return undefined;
}

/** Why the page may not ask for these rewards: each must be `time` or a reward the run reports. */
export function rewardsError(run: PanelRun, rewards: string[]): string | undefined {
  const known = Object.keys(run.result.moments);
  for (const r of rewards) {
    if (r !== 'time' && !known.includes(r))
      return `Unknown reward '${r}'; the model has ${['time', ...known.filter((k) => k !== 'time')].join(', ')}.`;
  }
  return undefined;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The bytes of a `data:image/png;base64,` URL whose content really is a PNG, or why not. */
export function pngBytes(dataUrl: string): Uint8Array | string {
  const bytes = Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
  if (bytes.length < PNG_SIGNATURE.length || PNG_SIGNATURE.some((b, i) => bytes[i] !== b))
    return 'The exported image is not a PNG.';
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** A fit under way; `failure` when a run not its data's stopped it (it ends failed, not cancelled). */
interface FitInFlight {
  fitId: number;
  controller: AbortController;
  failure?: string;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class PanelSession {
  private ready = false;
  private pendingSamples: TimelineSample[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** The distribution request the page is waiting for, cancelled by a newer one. */
  private distributionInFlight: AbortController | undefined;
  /** The fit under way, cancelled by the page's Cancel, a newer fit or new data. */
  private fitInFlight: FitInFlight | undefined;
  private fitSource: FitSource | null = null;
  /** The newest fit of `fitSource`, kept whether or not the page is there to see it. */
  private fitRecord: FitRecord | null = null;

  constructor(
    private readonly buffer: StudioBuffer,
    private readonly host: PanelHost & { exportSvg(svg: string): Promise<string | undefined> },
    private readonly send: (m: HostMessage) => void,
  ) {}

  /** The page is gone or hidden: hold everything in the buffer until its next `ready`. */
  detach(): void {
    this.ready = false;
    this.pendingSamples = [];
  }

  dispose(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.detach();
  }

  get tab(): StudioTab {
    return this.buffer.tab;
  }

  showTab(tab: StudioTab): void {
    this.buffer.tab = tab;
    this.post({ type: 'showTab', tab });
  }

  // ---- feed ----

  engineInfo(info: { version: string; pid: number; startedAt?: number }): void {
    this.post({ type: 'engine', engine: this.buffer.setEngine({ ...info, startedAt: info.startedAt ?? Date.now() }) });
  }

  memorySample(s: MemorySnapshot): void {
    const sample = this.buffer.addSample(s);
    if (!this.ready) return;
    this.pendingSamples.push(sample);
    this.flushTimer ??= setTimeout(() => this.flushSamples(), SAMPLE_FLUSH_MS);
  }

  blockEvent(e: BlockEvent): void {
    const block = this.buffer.addBlockEvent(e);
    if (!block) return;
    this.flushSamples();
    this.post({ type: 'block', block });
  }

  marker(m: MarkerInput): void {
    this.flushSamples();
    this.post({ type: 'marker', marker: this.buffer.addMarker(m) });
  }

  /** A Clear Caches marker, now, labelled with what it returned (ClearResult.timeMs is its duration). */
  cleared(r: ClearResult): void {
    const f = r.freedBytes;
    this.marker({ kind: 'clear', freedBytes: totalBytes(f) });
  }

  runResult(model: PanelModel, r: RunResult): void {
    // A fit of another run's data would end with a result the panel shows on this run.
    const inFlight = this.fitInFlight;
    if (inFlight && this.fitSource?.data.traceKey !== r.traceKey) {
      inFlight.failure = STALE_RUN;
      inFlight.controller.abort();
    }
    this.post({ type: 'run', run: this.buffer.setRun(model, r) });
  }

  /** New data for the Fit view: shown on the Fit tab; a fit of the old data is of no use now. */
  showFit(source: FitSource): void {
    this.fitInFlight?.controller.abort();
    this.fitRecord = null;
    this.fitSource = source;
    this.post({ type: 'fitData', data: source.data });
    this.showTab('fit');
  }

  // ---- the page ----

  /** Handles one message from the page; anything malformed is logged and dropped. */
  async receive(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.host.log?.(`Phasic Studio: ignored a malformed message from the panel (${parsed.error})`);
      return;
    }
    const m = parsed.value;
    switch (m.type) {
      case 'ready':
        this.pendingSamples = [];
        this.ready = true;
        this.post({
          type: 'snapshot',
          snapshot: { ...this.buffer.snapshot(), fitData: this.fitSource?.data ?? null, fit: this.fitSnapshot() },
        });
        return;
      case 'tab':
        this.buffer.tab = m.tab;
        return;
      case 'evaluate': {
        const error = evaluationError(this.buffer.currentRun(), m.traceKey, m.params);
        if (error) return this.post({ type: 'evaluation', requestId: m.requestId, error });
        try {
          this.post({
            type: 'evaluation',
            requestId: m.requestId,
            result: await this.host.evaluate(m.traceKey, m.params),
          });
        } catch (e) {
          this.post({ type: 'evaluation', requestId: m.requestId, error: message(e) });
        }
        return;
      }
      case 'sccDetail': {
        const run = this.buffer.currentRun();
        if (!run || run.result.traceKey !== m.traceKey || m.scc >= run.decomposition.sccs.length) {
          return this.post({
            type: 'sccDetail',
            requestId: m.requestId,
            error: 'That component is not part of the current run.',
          });
        }
        if (!this.host.sccDetail) {
          return this.post({
            type: 'sccDetail',
            requestId: m.requestId,
            error: 'This engine does not report the states of a component.',
          });
        }
        try {
          this.post({
            type: 'sccDetail',
            requestId: m.requestId,
            detail: await this.host.sccDetail(m.traceKey, m.scc, run.result.params),
          });
        } catch (e) {
          this.post({ type: 'sccDetail', requestId: m.requestId, error: message(e) });
        }
        return;
      }
      case 'exportSvg':
        try {
          this.post({ type: 'exported', path: await this.host.exportSvg(m.svg) });
        } catch (e) {
          this.post({ type: 'exported', error: message(e) });
        }
        return;
      case 'distribution':
        return this.post({ type: 'distribution', requestId: m.requestId, ...(await this.distribution(m)) });
      case 'exportPng': {
        const png = pngBytes(m.png);
        if (typeof png === 'string') return this.post({ type: 'exported', format: 'png', error: png });
        return this.exported('png', this.host.exportPng && (() => this.host.exportPng!(png)));
      }
      case 'exportCsv':
        return this.exported('csv', this.host.exportCsv && (() => this.host.exportCsv!(m.csv)));
      case 'fit':
        return this.fit(m);
      case 'fitCancel':
        if (this.fitInFlight?.fitId === m.fitId) this.fitInFlight.controller.abort();
        return;
    }
  }

  /**
   * One engine request per reward, all at once; the first failure is the reply. A
   * newer request cancels the one in flight: the page only draws the newest, and a
   * stiff chain's uniformization can take seconds the engine would otherwise spend
   * on curves nobody sees before starting the one wanted.
   */
  private async distribution(
    m: Extract<WebviewMessage, { type: 'distribution' }>,
  ): Promise<{ results: DistributionResult[] } | { error: string }> {
    const run = this.buffer.currentRun();
    const refused = evaluationError(run, m.traceKey, m.params) ?? (run ? rewardsError(run, m.rewards) : undefined);
    if (refused) return { error: refused };
    const ask = this.host.distribution;
    if (!ask) return { error: 'This engine does not compute distributions.' };
    this.distributionInFlight?.abort();
    const inFlight = new AbortController();
    this.distributionInFlight = inFlight;
    try {
      return {
        results: await Promise.all(m.rewards.map((reward) => ask(m.traceKey, reward, m.params, inFlight.signal))),
      };
    } catch (e) {
      return { error: message(e) };
    } finally {
      if (this.distributionInFlight === inFlight) this.distributionInFlight = undefined;
    }
  }

  private async fit(m: Extract<WebviewMessage, { type: 'fit' }>): Promise<void> {
    const { type: _, fitId, ...request } = m;
    const source = this.fitSource;
    // A refusal leaves the fit under way (if any) running and recorded: the page never started this one.
    const refused = fitError(this.buffer.currentRun(), source, m);
    if (refused || !source) return this.post({ type: 'fitResult', fitId, error: refused });
    if (!this.host.fit) return this.post({ type: 'fitResult', fitId, error: 'This engine does not fit.' });
    this.fitInFlight?.controller.abort();
    const record: FitRecord = { fitId, request, status: 'running', steps: [] };
    this.fitRecord = record;
    const inFlight: FitInFlight = { fitId, controller: new AbortController() };
    this.fitInFlight = inFlight;
    const { signal } = inFlight.controller;
    const stopped = () =>
      inFlight.failure ? { status: 'failed' as const, error: inFlight.failure } : { status: 'cancelled' as const };
    try {
      const result = await this.host.fit(
        { uri: source.data.modelUri, overrides: source.overrides, data: source.text, ...request },
        (step) => {
          if (signal.aborted) return;
          record.steps.push(step);
          this.post({ type: 'fitProgress', fitId, step });
        },
        signal,
      );
      this.fitEnded(record, signal.aborted ? stopped() : { status: 'done', result });
    } catch (e) {
      this.fitEnded(record, signal.aborted ? stopped() : { status: 'failed', error: message(e) });
    } finally {
      if (this.fitInFlight === inFlight) this.fitInFlight = undefined;
    }
  }

  /** Keeps how the fit ended (for the next `ready`) and tells the page, if it is there. */
  private fitEnded(
    record: FitRecord,
    end: { status: 'cancelled' } | { status: 'done'; result: FitResult } | { status: 'failed'; error: string },
  ): void {
    // Kept for every later snapshot: an error too long for the schema would cost the page the whole snapshot.
    if (end.status === 'failed' && end.error.length > MAX_ERROR_CHARS)
      end.error = `${end.error.slice(0, MAX_ERROR_CHARS - 1)}…`;
    Object.assign(record, end);
    const { fitId } = record;
    this.post(
      end.status === 'done'
        ? { type: 'fitResult', fitId, result: end.result }
        : end.status === 'cancelled'
          ? { type: 'fitResult', fitId, cancelled: true }
          : { type: 'fitResult', fitId, error: end.error },
    );
  }

  /** The newest fit as the page should see it after a reload (a copy: the running fit's steps still grow). */
  private fitSnapshot(): FitRecord | null {
    const r = this.fitRecord;
    return r && { ...r, steps: [...r.steps] };
  }

  private async exported(format: 'png' | 'csv', save: (() => Promise<string | undefined>) | undefined): Promise<void> {
    if (!save)
      return this.post({ type: 'exported', format, error: `Saving ${format.toUpperCase()} is not available here.` });
    try {
      this.post({ type: 'exported', format, path: await save() });
    } catch (e) {
      this.post({ type: 'exported', format, error: message(e) });
    }
  }

  private post(m: HostMessage): void {
    if (this.ready) this.send(m);
  }

  private flushSamples(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pendingSamples.length === 0) return;
    const samples = this.pendingSamples;
    this.pendingSamples = [];
    this.post({ type: 'samples', samples });
  }
}
