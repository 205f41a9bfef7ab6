// The Memory tab: current figures, the timeline chart with its Gantt strip of block
// subgraphs, and a table view of the same data.
import { el } from '../dom';
import { formatBytes } from '../../extension/protocol/format';
import type { StudioStore } from '../store';
import type { Palette } from '../theme';
import { tableToggle } from '../tableToggle';
import { MemorySummary } from './summary';
import { timelineTables } from './table';
import { TimelineChart } from './timeline';

/** Block subgraphs still alive although a run ended after they were built: the engine should have freed them. */
export function leakWarning(store: StudioStore): string {
  const ends = store.markers.filter((m) => m.kind === 'runEnd' || m.kind === 'cancel').map((m) => m.t);
  const lastEnd = ends.length ? Math.max(...ends) : -Infinity;
  const outlived = store.blocks.filter((b) => b.freed === null && b.created < lastEnd);
  if (outlived.length === 0) return '';
  const bytes = outlived.reduce((n, b) => n + b.bytes, 0);
  const which =
    outlived
      .slice(0, 5)
      .map((b) => b.scc)
      .join(', ') + (outlived.length > 5 ? ', …' : '');
  return `${outlived.length} block subgraph${outlived.length === 1 ? '' : 's'} (${formatBytes(bytes)}) outlived ${outlived.length === 1 ? 'its' : 'their'} run: SCC ${which}.`;
}

export class MemoryView {
  readonly element = el('section', { class: 'view memory', 'aria-labelledby': 'memory-heading' });
  private readonly summary: MemorySummary;
  readonly chart: TimelineChart;
  private readonly tables = el('div', { class: 'table-view', id: 'memory-tables' });
  private readonly leak = el('p', { class: 'leak', role: 'status' });
  private tablesDirty = false;

  constructor(private readonly store: StudioStore) {
    this.summary = new MemorySummary(store);
    this.chart = new TimelineChart(store);
    const toggle = tableToggle(this.tables, () => this.renderTables());
    this.element.append(
      el('div', { class: 'view-head' }, el('h2', { id: 'memory-heading' }, 'Phasic Memory'), toggle),
      this.summary.element,
      this.chart.element,
      this.leak,
      this.tables,
    );
    store.subscribe(() => this.render());
  }

  setPalette(p: Palette): void {
    this.chart.setPalette(p);
  }

  render(): void {
    this.summary.update();
    this.leak.textContent = leakWarning(this.store);
    this.chart.requestRender();
    this.renderTables();
  }

  /** Tables are rebuilt at most once a second while visible: they are for reading, not for motion. */
  private renderTables(): void {
    if (this.tables.hidden || this.tablesDirty) return;
    this.tablesDirty = true;
    setTimeout(
      () => {
        this.tablesDirty = false;
        this.tables.replaceChildren(timelineTables(this.store));
      },
      this.tables.childElementCount === 0 ? 0 : 1000,
    );
  }
}
