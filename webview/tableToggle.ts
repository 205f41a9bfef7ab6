// The "Show as table" switch of a chart: its table view is the chart's text
// alternative. Whether the tables show is the tables' own `hidden`, not a copy.
import { button } from './toolkit';

/** A button that shows and hides `tables`; `render` fills them each time they open. */
export function tableToggle(tables: HTMLElement, render: () => void): HTMLElement {
  tables.hidden = true;
  const toggle = button('Show as table', () => {
    tables.hidden = !tables.hidden;
    toggle.textContent = tables.hidden ? 'Show as table' : 'Hide table';
    toggle.setAttribute('aria-expanded', String(!tables.hidden));
    render();
  });
  toggle.setAttribute('aria-controls', tables.id);
  toggle.setAttribute('aria-expanded', 'false');
  return toggle;
}
