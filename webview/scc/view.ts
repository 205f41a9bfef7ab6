// The SCC decomposition tab: summary of the run, the condensation drawing with its
// legend, the detail pane of the selected component, SVG export and a table view.
import type { TraceSource } from '../../extension/protocol/engine';
import type { SccDetail } from '../../extension/protocol/webview';
import { el, table } from '../dom';
import { formatBytes, formatCount, formatMs } from '../../extension/protocol/format';
import type { StudioStore } from '../store';
import type { Palette } from '../theme';
import { tableToggle } from '../tableToggle';
import { button } from '../toolkit';
import { nextRequestId, post } from '../vscode';
import { SccDetailPane } from './detail';
import { SOURCE_LABELS, SccGraph } from './graph';
import { sccSvg } from './svg';

const TABLE_ROWS = 500;

export class SccView {
  readonly element = el('section', { class: 'view scc', 'aria-labelledby': 'scc-heading' });
  readonly graph: SccGraph;
  private readonly detail: SccDetailPane;
  private readonly summary = el('p', { class: 'muted run-summary' }, 'Run a model to see its decomposition.');
  private readonly legend = el('div', { class: 'legend', role: 'list', 'aria-label': 'Trace sources' });
  private readonly status = el('span', { class: 'muted', role: 'status' });
  private readonly tables = el('div', { class: 'table-view', id: 'scc-tables' });
  private detailRequest = 0;

  constructor(
    private readonly store: StudioStore,
    private palette: Palette,
  ) {
    this.detail = new SccDetailPane(palette, () => this.graph.select(null));
    this.graph = new SccGraph(palette, (id) => this.selected(id));
    const toggle = tableToggle(this.tables, () => this.renderTable());
    const toolbar = el(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Decomposition controls' },
      button('+', () => this.graph.zoom(1.5), { appearance: 'icon', ariaLabel: 'Zoom in', title: 'Zoom in (+)' }),
      button('\u2212', () => this.graph.zoom(1 / 1.5), {
        appearance: 'icon',
        ariaLabel: 'Zoom out',
        title: 'Zoom out (−)',
      }),
      button('Fit', () => this.graph.fit(), { ariaLabel: 'Fit the whole graph', title: 'Fit (0)' }),
      button('Export SVG…', () => this.exportSvg(), { ariaLabel: 'Export the decomposition as SVG' }),
      this.status,
    );
    this.element.append(
      el('div', { class: 'view-head' }, el('h2', { id: 'scc-heading' }, 'SCC decomposition'), toggle),
      this.summary,
      toolbar,
      this.legend,
      el('div', { class: 'scc-main' }, this.graph.element, this.detail.element),
      this.tables,
    );
    store.subscribe((c) => {
      if (c === 'run' || c === 'all') this.setRun();
    });
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.graph.setPalette(p);
    this.detail.setPalette(p);
  }

  private setRun(): void {
    const run = this.store.run;
    this.graph.setRun(run);
    this.detail.show(null);
    if (!run) return;
    const r = run.result;
    const sccs = run.decomposition.sccs;
    this.summary.textContent =
      `${run.model.name}: ${formatCount(r.vertices)} vertices, ${formatCount(r.edges)} edges, ${formatCount(r.sccs.count)} SCCs ` +
      `(${formatCount(r.sccs.blocks)} blocks: ${formatCount(r.sccs.recorded)} recorded, ${formatCount(r.sccs.cached)} from cache; largest ${formatCount(r.sccs.largest)}), ` +
      `${run.layout.layers} layers · trace ${formatCount(r.trace.operations)} operations, ${formatBytes(r.trace.bytes)} · ` +
      (r.reused
        ? 'model unchanged: the cached run was reused, nothing explored or recorded'
        : r.sccs.recorded === 0
          ? 'nothing recorded (all blocks from cache)'
          : `recorded in ${formatMs(r.timingsMs.record)}`);
    this.legend.replaceChildren();
    for (const source of ['recorded', 'memory', 'disk', 'trivial'] as TraceSource[]) {
      const n = sccs.filter((s) => s.source === source).length;
      this.legend.append(
        el(
          'span',
          { role: 'listitem' },
          el('span', { class: `swatch src-${source}`, 'aria-hidden': 'true' }),
          `${SOURCE_LABELS[source]} (${formatCount(n)})`,
        ),
      );
    }
    this.renderTable();
  }

  private selected(id: number | null): void {
    const run = this.store.run;
    const scc = id === null || !run ? null : run.decomposition.sccs[id];
    this.detail.show(scc);
    for (const row of this.tables.querySelectorAll('tr.selected')) row.classList.remove('selected');
    if (id !== null) this.tables.querySelector(`tr[data-scc="${id}"]`)?.classList.add('selected');
    if (!scc || !run) return;
    this.detailRequest = nextRequestId();
    post({ type: 'sccDetail', requestId: this.detailRequest, traceKey: run.result.traceKey, scc: scc.id });
  }

  /** A reply to the newest detail request (older ones are stale). */
  receiveDetail(requestId: number, detail: SccDetail | undefined, error: string | undefined): void {
    if (requestId === this.detailRequest) this.detail.receive(detail, error);
  }

  exported(path: string | undefined, error: string | undefined): void {
    this.status.textContent = error ? `Export failed: ${error}` : path ? `Saved ${path}` : '';
  }

  private exportSvg(): void {
    const run = this.store.run;
    if (!run) {
      this.status.textContent = 'Nothing to export yet.';
      return;
    }
    this.status.textContent = 'Exporting…';
    post({ type: 'exportSvg', svg: sccSvg(run, this.palette) });
  }

  private renderTable(): void {
    const run = this.store.run;
    if (this.tables.hidden || !run) return;
    const t = table({
      caption: `Components of ${run.model.name} (${formatCount(run.decomposition.sccs.length)})`,
      headers: [
        'SCC',
        'Layer',
        'Vertices',
        'Internal edges',
        'Exit edges',
        'Trace',
        'Operations',
        'Bytes',
        'Record time',
        'Cache key',
      ],
      rows: run.decomposition.sccs.map((s) => {
        const pick = el('button', { class: 'link', type: 'button', 'aria-label': `Show SCC ${s.id}` }, String(s.id));
        pick.addEventListener('click', () => this.graph.select(s.id, true));
        return [
          pick,
          String(run.layout.nodes[s.id].layer),
          formatCount(s.vertices),
          formatCount(s.internalEdges),
          formatCount(s.exitEdges),
          SOURCE_LABELS[s.source],
          formatCount(s.operations),
          formatBytes(s.bytes),
          s.source === 'recorded' ? formatMs(s.recordMs) : '—',
          s.key || '—',
        ];
      }),
      limit: TABLE_ROWS,
    });
    t.querySelectorAll('tbody tr').forEach((tr, i) => tr.setAttribute('data-scc', String(i)));
    this.tables.replaceChildren(t);
  }
}
