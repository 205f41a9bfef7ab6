// The Phasic Studio webview panel (Memory timeline, SCC decomposition, Moments) on
// the host side. One controller lives for the whole activation and records what the
// engine reports into a StudioBuffer whether or not the panel is open; the panel
// itself is created on demand, restored after a window reload by the serializer, and
// brought up to date by a snapshot each time its page says `ready` (first load,
// reload, or becoming visible again: without retainContextWhenHidden, VS Code
// discards a hidden page).
import * as vscode from 'vscode';
import type { BlockEvent, ClearResult, EvaluateResult, MemorySnapshot, RunResult } from '../../protocol/engine';
import {
  STUDIO_TABS,
  STUDIO_VIEW_TYPE,
  parseWebviewMessage,
  type EngineBadge,
  type HostMessage,
  type PanelModel,
  type SccDetail,
  type StudioTab,
  type TimelineSample,
  type WebviewMessage,
} from '../../protocol/webview';
import { StudioBuffer, type MarkerInput } from './buffer';
import { makeNonce, renderStudioPage } from './html';

/** What the panel asks of the rest of the extension. */
export interface PanelHost {
  /** Re-evaluates a cached composed trace at new parameters (never re-records). */
  evaluate(traceKey: string, params: Record<string, number>): Promise<EvaluateResult>;
  /** An SCC's states and internal edges, for the detail pane; optional. */
  sccDetail?(traceKey: string, scc: number): Promise<SccDetail>;
  /** Saves an exported SVG; returns the path written, undefined if cancelled. Default: a save dialog. */
  exportSvg?(svg: string): Promise<string | undefined>;
  /** Where rejected webview messages are reported (the extension's output channel). */
  log?(message: string): void;
}

/** Samples are posted in batches: engines may report many per second. */
const SAMPLE_FLUSH_MS = 100;

export class StudioPanel implements vscode.Disposable {
  private static instance: StudioPanel | undefined;

  private readonly buffer = new StudioBuffer();
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  private ready = false;
  private pendingSamples: TimelineSample[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly registration: vscode.Disposable;

  private constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly host: PanelHost,
  ) {
    this.registration = vscode.window.registerWebviewPanelSerializer(STUDIO_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state: unknown) => {
        const tab = (state as { tab?: unknown } | undefined)?.tab;
        this.adopt(panel, STUDIO_TABS.includes(tab as StudioTab) ? (tab as StudioTab) : 'memory');
      },
    });
    context.subscriptions.push(this);
  }

  /** Call once at activation: starts recording and restores a panel left open. */
  static register(context: vscode.ExtensionContext, host: PanelHost): StudioPanel {
    StudioPanel.instance ??= new StudioPanel(context, host);
    return StudioPanel.instance;
  }

  /** Registers if needed, then opens or reveals the panel on `tab`. */
  static createOrShow(context: vscode.ExtensionContext, host: PanelHost, tab: StudioTab = 'memory'): StudioPanel {
    const studio = StudioPanel.register(context, host);
    studio.show(tab);
    return studio;
  }

  show(tab: StudioTab = this.buffer.tab): void {
    this.buffer.tab = tab;
    if (this.panel) {
      this.panel.reveal(undefined, false);
      this.post({ type: 'showTab', tab });
      return;
    }
    const panel = vscode.window.createWebviewPanel(STUDIO_VIEW_TYPE, 'Phasic Studio', vscode.ViewColumn.Beside, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.context.extensionUri, 'dist')],
    });
    this.adopt(panel, tab);
  }

  // ---- feed: the lead's engine client calls these as the engine reports ----

  engineInfo(info: { version: string; pid: number; startedAt?: number }): void {
    const engine: EngineBadge = this.buffer.setEngine({ ...info, startedAt: info.startedAt ?? Date.now() });
    this.post({ type: 'engine', engine });
  }

  memorySample(s: MemorySnapshot): void {
    this.pendingSamples.push(this.buffer.addSample(s));
    this.flushTimer ??= setTimeout(() => this.flushSamples(), SAMPLE_FLUSH_MS);
  }

  blockEvent(e: BlockEvent): void {
    const block = this.buffer.addBlockEvent(e);
    if (block) {
      this.flushSamples();
      this.post({ type: 'block', block });
    }
  }

  marker(m: MarkerInput): void {
    this.flushSamples();
    this.post({ type: 'marker', marker: this.buffer.addMarker(m) });
  }

  /** A Clear Caches marker, now, labelled with what it returned (ClearResult.time_ms is its duration). */
  cleared(r: ClearResult): void {
    const f = r.freed_bytes;
    this.marker({ kind: 'clear', freedBytes: f.graph + f.subgraphs + f.traces + f.cache + f.evaluation });
  }

  runResult(model: PanelModel, r: RunResult): void {
    this.post({ type: 'run', run: this.buffer.setRun(model, r) });
  }

  dispose(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.panel?.dispose();
    this.registration.dispose();
    if (StudioPanel.instance === this) StudioPanel.instance = undefined;
  }

  // ---- the page ----

  private adopt(panel: vscode.WebviewPanel, tab: StudioTab): void {
    this.panel = panel;
    this.buffer.tab = tab;
    this.ready = false;
    const webview = panel.webview;
    webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.context.extensionUri, 'dist')],
    };
    const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, 'dist', name)).toString();
    webview.html = renderStudioPage({
      cspSource: webview.cspSource,
      scriptUri: asset('webview.js'),
      styleUri: asset('webview.css'),
      nonce: makeNonce(),
      tab,
    });
    this.panelDisposables.push(
      webview.onDidReceiveMessage((m: unknown) => void this.receive(m)),
      panel.onDidChangeViewState(() => {
        // A hidden page is discarded; it says `ready` again when shown.
        if (!panel.visible) this.ready = false;
      }),
      panel.onDidDispose(() => {
        this.panel = undefined;
        this.ready = false;
        for (const d of this.panelDisposables) d.dispose();
        this.panelDisposables = [];
      }),
    );
  }

  private post(m: HostMessage): void {
    if (this.panel && this.ready) void this.panel.webview.postMessage(m);
  }

  private flushSamples(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pendingSamples.length === 0) return;
    const samples = this.pendingSamples;
    this.pendingSamples = [];
    this.post({ type: 'samples', samples });
  }

  private async receive(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.host.log?.(`Phasic Studio: ignored a malformed message from the panel (${parsed.error})`);
      return;
    }
    const m: WebviewMessage = parsed.value;
    switch (m.type) {
      case 'ready':
        this.pendingSamples = [];
        this.ready = true;
        this.post({ type: 'snapshot', snapshot: this.buffer.snapshot() });
        return;
      case 'tab':
        this.buffer.tab = m.tab;
        return;
      case 'evaluate':
        return this.evaluate(m.requestId, m.traceKey, m.params);
      case 'sccDetail':
        return this.sccDetail(m.requestId, m.traceKey, m.scc);
      case 'exportSvg':
        return this.exportSvg(m.svg);
    }
  }

  /** The page may only evaluate the trace it shows, at parameters of its model. */
  private checkEvaluation(traceKey: string, params: Record<string, number>): string | undefined {
    const run = this.buffer.currentRun();
    if (!run || run.result.traceKey !== traceKey) return 'That run is no longer current; run the model again.';
    for (const [name, value] of Object.entries(params)) {
      const spec = run.model.params.find((p) => p.name === name);
      if (!spec) return `Unknown parameter '${name}'.`;
      if (spec.lo !== null && value < spec.lo) return `Parameter '${name}' must be ≥ ${spec.lo}.`;
      if (spec.hi !== null && value > spec.hi) return `Parameter '${name}' must be ≤ ${spec.hi}.`;
    }
    return undefined;
  }

  private async evaluate(requestId: number, traceKey: string, params: Record<string, number>): Promise<void> {
    const error = this.checkEvaluation(traceKey, params);
    if (error) return this.post({ type: 'evaluation', requestId, error });
    try {
      this.post({ type: 'evaluation', requestId, result: await this.host.evaluate(traceKey, params) });
    } catch (e) {
      this.post({ type: 'evaluation', requestId, error: e instanceof Error ? e.message : String(e) });
    }
  }

  private async sccDetail(requestId: number, traceKey: string, scc: number): Promise<void> {
    const run = this.buffer.currentRun();
    if (!run || run.result.traceKey !== traceKey || scc >= run.decomposition.sccs.length) {
      return this.post({ type: 'sccDetail', requestId, error: 'That component is not part of the current run.' });
    }
    if (!this.host.sccDetail) {
      return this.post({ type: 'sccDetail', requestId, error: 'This engine does not report the states of a component.' });
    }
    try {
      this.post({ type: 'sccDetail', requestId, detail: await this.host.sccDetail(traceKey, scc) });
    } catch (e) {
      this.post({ type: 'sccDetail', requestId, error: e instanceof Error ? e.message : String(e) });
    }
  }

  private async exportSvg(svg: string): Promise<void> {
    try {
      const path = this.host.exportSvg ? await this.host.exportSvg(svg) : await this.saveSvg(svg);
      this.post({ type: 'exported', path });
    } catch (e) {
      this.post({ type: 'exported', error: e instanceof Error ? e.message : String(e) });
    }
  }

  private async saveSvg(svg: string): Promise<string | undefined> {
    const run = this.buffer.currentRun();
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `${run?.model.name ?? 'model'}-scc.svg`;
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
      filters: { SVG: ['svg'] },
      title: 'Export SCC decomposition',
    });
    if (!target) return undefined;
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(svg));
    return target.fsPath;
  }
}
