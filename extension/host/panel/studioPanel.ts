// The Phasic Studio webview panel (Memory timeline, SCC decomposition, Moments,
// Distribution, Fit) in VS Code. One controller lives for the whole activation and records what the engine
// reports (StudioBuffer) whether or not the panel is open; the panel is created on
// demand, restored after a window reload by the serializer, and brought up to date
// by its PanelSession each time the page says `ready` (first load, reload, or
// becoming visible again: without retainContextWhenHidden VS Code discards a hidden
// page, which is lighter than keeping hours of charts alive in the background).
import * as vscode from 'vscode';
import type { BlockEvent, ClearResult, MemorySnapshot, RunResult } from '../../protocol/engine';
import { type PanelModel, STUDIO_TABS, STUDIO_VIEW_TYPE, type StudioTab } from '../../protocol/webview';
import { type MarkerInput, StudioBuffer } from './buffer';
import { makeNonce, renderStudioPage } from './html';
import { type FitSource, type PanelHost, PanelSession } from './session';

export type { FitSource, PanelHost } from './session';

export class StudioPanel implements vscode.Disposable {
  private static instance: StudioPanel | undefined;

  private readonly buffer = new StudioBuffer();
  private readonly session: PanelSession;
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  private readonly registration: vscode.Disposable;

  private constructor(
    private readonly context: vscode.ExtensionContext,
    host: PanelHost,
  ) {
    this.session = new PanelSession(
      this.buffer,
      {
        ...host,
        exportSvg:
          host.exportSvg?.bind(host) ??
          ((svg) => this.save(new TextEncoder().encode(svg), 'scc.svg', { SVG: ['svg'] }, 'Export SCC decomposition')),
        exportPng:
          host.exportPng?.bind(host) ??
          ((png) => this.save(png, 'distribution.png', { PNG: ['png'] }, 'Export distribution charts')),
        exportCsv:
          host.exportCsv?.bind(host) ??
          ((csv) =>
            this.save(
              new TextEncoder().encode(csv),
              'distribution.csv',
              { CSV: ['csv'] },
              'Export distribution curves',
            )),
      },
      (m) => void this.panel?.webview.postMessage(m),
    );
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

  show(tab: StudioTab = this.session.tab): void {
    if (this.panel) {
      this.panel.reveal(undefined, false);
      this.session.showTab(tab);
      return;
    }
    const panel = vscode.window.createWebviewPanel(STUDIO_VIEW_TYPE, 'Phasic Studio', vscode.ViewColumn.Beside, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.context.extensionUri, 'dist')],
    });
    this.adopt(panel, tab);
  }

  // ---- feed: the engine client calls these as the engine reports ----

  engineInfo(info: { version: string; pid: number; startedAt?: number }): void {
    this.session.engineInfo(info);
  }

  memorySample(s: MemorySnapshot): void {
    this.session.memorySample(s);
  }

  blockEvent(e: BlockEvent): void {
    this.session.blockEvent(e);
  }

  marker(m: MarkerInput): void {
    this.session.marker(m);
  }

  cleared(r: ClearResult): void {
    this.session.cleared(r);
  }

  runResult(model: PanelModel, r: RunResult): void {
    this.session.runResult(model, r);
  }

  /** Opens the panel on the Fit tab with this data. */
  showFit(source: FitSource): void {
    this.show('fit');
    this.session.showFit(source);
  }

  /** The URI of the model whose run the panel shows, while the panel is in view. */
  shownModel(): string | undefined {
    return this.panel?.visible ? this.buffer.currentRun()?.model.uri : undefined;
  }

  dispose(): void {
    this.session.dispose();
    this.panel?.dispose();
    this.registration.dispose();
    if (StudioPanel.instance === this) StudioPanel.instance = undefined;
  }

  // ---- the page ----

  private adopt(panel: vscode.WebviewPanel, tab: StudioTab): void {
    this.panel = panel;
    this.buffer.tab = tab;
    this.session.detach();
    const webview = panel.webview;
    webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.context.extensionUri, 'dist')],
    };
    const asset = (name: string) =>
      webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, 'dist', name)).toString();
    webview.html = renderStudioPage({
      cspSource: webview.cspSource,
      scriptUri: asset('webview.js'),
      styleUri: asset('webview.css'),
      nonce: makeNonce(),
      tab,
    });
    this.panelDisposables.push(
      webview.onDidReceiveMessage((m: unknown) => void this.session.receive(m)),
      panel.onDidChangeViewState(() => {
        // A hidden page is discarded; it says `ready` again when shown.
        if (!panel.visible) this.session.detach();
      }),
      panel.onDidDispose(() => {
        this.panel = undefined;
        this.session.detach();
        for (const d of this.panelDisposables) d.dispose();
        this.panelDisposables = [];
      }),
    );
  }

  /** Asks where to save an export (default `<model>-<suffix>` in the workspace) and writes it. */
  private async save(
    bytes: Uint8Array,
    suffix: string,
    filters: Record<string, string[]>,
    title: string,
  ): Promise<string | undefined> {
    const run = this.buffer.currentRun();
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `${run?.model.name ?? 'model'}-${suffix}`;
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
      filters,
      title,
    });
    if (!target) return undefined;
    await vscode.workspace.fs.writeFile(target, bytes);
    return target.fsPath;
  }
}
