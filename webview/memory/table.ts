// The timeline as tables: the text alternative of the chart and the Gantt strip.
import { MEMORY_CATEGORIES } from '../../extension/protocol/memory';
import { el, table } from '../dom';
import { formatBytes, formatClock, formatDuration } from '../../extension/protocol/format';
import type { StudioStore } from '../store';
import { CATEGORY_LABELS } from './summary';
import { markerLabel } from './markers';

const SAMPLE_ROWS = 200;
const BLOCK_ROWS = 200;

export function timelineTables(store: StudioStore): HTMLElement {
  const s = store.samples;
  // Evenly spaced samples over the whole session, always including the newest.
  const step = Math.max(1, Math.ceil(s.length / SAMPLE_ROWS));
  const rows: string[][] = [];
  for (let i = s.length - 1; i >= 0; i -= step) {
    rows.push([
      formatClock(s.t[i], true),
      ...MEMORY_CATEGORIES.map((c) => formatBytes(s.cat[c][i])),
      formatBytes(s.total(i)),
      formatBytes(s.rss[i]),
    ]);
  }
  const samples = table({
    caption: `Memory samples (${s.length === 0 ? 'none yet' : `${rows.length} of ${s.length.toLocaleString('en-US')}, newest first`})`,
    headers: ['Time', ...MEMORY_CATEGORIES.map((c) => CATEGORY_LABELS[c]), 'Accounted', 'Resident'],
    rows,
  });
  const latest = store.latest();
  const blocks = table({
    caption: `Block subgraphs (${store.blocks.length}, newest first)`,
    headers: ['SCC', 'Vertices', 'Bytes', 'Created', 'Lifetime'],
    rows: store.blocks
      .slice()
      .reverse()
      .map((b) => [
        String(b.scc),
        b.vertices.toLocaleString('en-US'),
        formatBytes(b.bytes),
        formatClock(b.created, true),
        b.freed === null ? `still alive (${formatDuration(latest - b.created)})` : formatDuration(b.freed - b.created),
      ]),
    limit: BLOCK_ROWS,
  });
  const markers = table({
    caption: `Events (${store.markers.length})`,
    headers: ['Time', 'Event'],
    rows: store.markers.map((m) => [formatClock(m.t, true), markerLabel(m)]),
  });
  return el('div', { class: 'tables' }, samples, blocks, markers);
}
