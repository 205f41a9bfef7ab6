// The Memory tab: current figures, the timeline chart with its Gantt strip of block
// subgraphs, and a table view of the same data.
import { el } from '../dom';
import type { StudioStore } from '../store';
import { MemorySummary } from './summary';

export class MemoryView {
  readonly element = el('section', { class: 'view memory', 'aria-labelledby': 'memory-heading' });
  private readonly summary: MemorySummary;

  constructor(store: StudioStore) {
    this.summary = new MemorySummary(store);
    this.element.append(el('h2', { id: 'memory-heading' }, 'Phasic Memory'), this.summary.element);
    store.subscribe(() => this.render());
  }

  render(): void {
    this.summary.update();
  }
}
