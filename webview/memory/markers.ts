// The timeline's markers (runs, cancellations, restarts, Clear Caches): their words,
// colours, lines through the plot and labels above it.
import type { TimelineMarker } from '../../extension/protocol/webview';
import { formatFreed } from '../../extension/protocol/format';
import type { Palette } from '../theme';
import { type TimeAxis, xOf } from './axis';

/** Marker labels sit in two rows above the plot. */
const LABEL_ROWS = [9, 25];

export function markerLabel(m: TimelineMarker): string {
  switch (m.kind) {
    case 'runStart':
      return m.label ? `Run ${m.label}` : 'Run';
    case 'runEnd':
      return m.label ?? 'Done';
    case 'cancel':
      return m.label ?? 'Cancelled';
    case 'restart':
      return m.label ?? 'Engine restarted';
    case 'clear':
      return m.freedBytes !== undefined ? `Clear ${formatFreed(m.freedBytes)}` : 'Clear';
  }
}

function markerColour(p: Palette, m: TimelineMarker): string {
  if (m.kind === 'cancel') return p.alive;
  if (m.kind === 'clear') return p.category.cache;
  if (m.kind === 'restart') return p.rss;
  return p.marker;
}

/** A vertical line from `top` to `bottom` per visible marker. */
export function drawMarkers(
  ctx: CanvasRenderingContext2D,
  p: Palette,
  markers: readonly TimelineMarker[],
  axis: TimeAxis,
  top: number,
  bottom: number,
): void {
  for (const m of markers) {
    if (m.t < axis.start || m.t > axis.end) continue;
    const xx = Math.round(xOf(axis, m.t)) + 0.5;
    ctx.strokeStyle = markerColour(p, m);
    ctx.lineWidth = m.kind === 'runStart' || m.kind === 'runEnd' ? 1 : 1.5;
    ctx.setLineDash(m.kind === 'runEnd' ? [3, 3] : m.kind === 'restart' ? [6, 3] : []);
    ctx.beginPath();
    ctx.moveTo(xx, top);
    ctx.lineTo(xx, bottom);
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

/**
 * Labels in the two rows above the plot. Clear Caches, cancellations and restarts
 * are placed first, so a crowded stretch of run markers never hides them; a label
 * with no free room in either row is left out (its line and the table remain).
 */
export function drawMarkerLabels(
  ctx: CanvasRenderingContext2D,
  p: Palette,
  markers: readonly TimelineMarker[],
  axis: TimeAxis,
): void {
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  const taken: Array<Array<[number, number]>> = LABEL_ROWS.map(() => []);
  const important = (m: TimelineMarker) => m.kind === 'clear' || m.kind === 'cancel' || m.kind === 'restart';
  const visible = markers.filter((m) => m.t >= axis.start && m.t <= axis.end);
  for (const m of [...visible.filter(important), ...visible.filter((x) => !important(x))]) {
    const text = markerLabel(m);
    const w = ctx.measureText(text).width;
    const at = Math.max(axis.left, Math.min(xOf(axis, m.t) + 3, axis.right - w));
    const row = taken.findIndex((spans) => spans.every(([a, b]) => at + w + 6 <= a || at >= b + 6));
    if (row < 0) continue;
    taken[row].push([at, at + w]);
    ctx.fillStyle = important(m) ? markerColour(p, m) : p.muted;
    ctx.fillText(text, at, LABEL_ROWS[row]);
  }
}
