// The current figures as text: accounted bytes per category, their total and peak,
// and the process's resident memory. Also the screen-reader summary of the chart.
import { MEMORY_CATEGORIES, totalBytes, type MemoryCategory } from '../../extension/protocol/memory';
import { el } from '../dom';
import { formatBytes } from '../../extension/protocol/format';
import type { StudioStore } from '../store';

export const CATEGORY_LABELS: Record<MemoryCategory, string> = {
  graph: 'Graph',
  subgraphs: 'Block subgraphs',
  traces: 'Traces',
  cache: 'Cache',
  evaluation: 'Evaluation',
  workspace: 'Kept workspace',
};

export class MemorySummary {
  readonly element = el('dl', { class: 'figures', 'aria-label': 'Current memory' });
  private readonly values = new Map<string, HTMLElement>();

  constructor(private readonly store: StudioStore) {
    const add = (key: string, label: string, swatch: string | null) => {
      const value = el('dd', { 'data-figure': key }, '—');
      const term = el('dt');
      if (swatch) term.append(el('span', { class: `swatch ${swatch}`, 'aria-hidden': 'true' }));
      term.append(label);
      this.element.append(el('div', { class: 'figure' }, term, value));
      this.values.set(key, value);
    };
    for (const c of MEMORY_CATEGORIES) add(c, CATEGORY_LABELS[c], `cat-${c}`);
    add('total', 'Accounted', null);
    add('peak', 'Peak accounted', null);
    add('rss', 'Resident (RSS)', 'rss');
  }

  update(): void {
    const s = this.store.samples;
    const now = s.latest();
    if (!now) return;
    const total = (x: typeof now) => totalBytes(x.accounted);
    for (const c of MEMORY_CATEGORIES) this.values.get(c)!.textContent = formatBytes(now.accounted[c]);
    this.values.get('total')!.textContent = formatBytes(total(now));
    let peak = total(now);
    for (let j = 0; j < s.length; j++) peak = Math.max(peak, s.total(j));
    this.values.get('peak')!.textContent = formatBytes(peak);
    this.values.get('rss')!.textContent = formatBytes(now.rss);
  }
}
