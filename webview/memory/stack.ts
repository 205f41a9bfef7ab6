// The timeline's chart: accounted bytes stacked by category with the resident size
// as a line, over byte and clock axes, with the marker lines through it.
//
// Drawing cost is bounded by the canvas width, not the number of samples: visible
// samples are folded into one bucket per pixel column keeping each stack level's
// maximum and the resident size's minimum and maximum (min/max decimation), so
// 100,000 samples draw as ~1,000 points and no peak is ever hidden by thinning.
import type { TimelineMarker } from '../../extension/protocol/webview';
import { MEMORY_CATEGORIES } from '../../extension/protocol/memory';
import { formatBytes, formatClock } from '../../extension/protocol/format';
import { chartFont } from '../chart/canvas';
import type { SampleColumns } from '../store';
import type { Palette } from '../theme';
import { byteTicks, timeTicks } from './ticks';
import { MARGIN, type TimeAxis, xOf } from './axis';
import { drawMarkerLabels, drawMarkers } from './markers';

export const CHART_HEIGHT = 260;
/** Samples further apart than this are not joined: the engine was not reporting. */
const MAX_JOIN_MS = 30_000;
const LEVELS = MEMORY_CATEGORIES.length;

export interface Point {
  x: number;
  t: number;
  /** Cumulative tops, one per category (graph, graph+subgraphs, …). */
  cum: Float64Array;
  rssMin: number;
  rssMax: number;
}

/** Folds the visible samples (and one on each side) into one point per pixel column. */
export function bucketSamples(s: SampleColumns, axis: TimeAxis): Point[] {
  const { start, end } = axis;
  const from = Math.max(0, s.lowerBound(start) - 1);
  const to = Math.min(s.length, s.lowerBound(end) + 1);
  const points: Point[] = [];
  let column = Number.NaN;
  let current: Point | null = null;
  let count = 0;
  for (let i = from; i < to; i++) {
    const x = xOf(axis, s.t[i]);
    const col = Math.floor(x);
    if (col !== column || current === null) {
      column = col;
      current = { x, t: s.t[i], cum: new Float64Array(LEVELS), rssMin: s.rss[i], rssMax: s.rss[i] };
      points.push(current);
      count = 0;
    }
    let acc = 0;
    for (let k = 0; k < LEVELS; k++) {
      acc += s.cat[MEMORY_CATEGORIES[k]][i];
      if (acc > current.cum[k]) current.cum[k] = acc;
    }
    if (s.rss[i] < current.rssMin) current.rssMin = s.rss[i];
    if (s.rss[i] > current.rssMax) current.rssMax = s.rss[i];
    count++;
    // A column with several samples is drawn at its centre.
    if (count > 1) current.x = col + 0.5;
  }
  return points;
}

/** Splits points where the engine restarted or stopped reporting: those are gaps. */
function segments(points: Point[], markers: readonly TimelineMarker[]): Point[][] {
  const restarts = markers.filter((m) => m.kind === 'restart').map((m) => m.t);
  const out: Point[][] = [];
  let seg: Point[] = [];
  for (const p of points) {
    const prev = seg[seg.length - 1];
    if (prev && (p.t - prev.t > MAX_JOIN_MS || restarts.some((r) => r > prev.t && r <= p.t))) {
      out.push(seg);
      seg = [];
    }
    seg.push(p);
  }
  if (seg.length) out.push(seg);
  return out;
}

/** Draws the stack, the resident line, axes, markers and, at `hoverX`, a cursor line. */
export function drawStack(
  ctx: CanvasRenderingContext2D,
  p: Palette,
  points: Point[],
  markers: readonly TimelineMarker[],
  axis: TimeAxis,
  hoverX: number | null,
): void {
  const plotTop = MARGIN.top;
  const plotBottom = CHART_HEIGHT - MARGIN.bottom;
  const { left: plotLeft, right: plotRight } = axis;
  ctx.clearRect(0, 0, plotRight + MARGIN.right, CHART_HEIGHT);

  let max = 0;
  for (const pt of points) max = Math.max(max, pt.cum[LEVELS - 1], pt.rssMax);
  const { top, step } = byteTicks(max * 1.05);
  const y = (b: number) => plotBottom - (b / top) * (plotBottom - plotTop);

  ctx.font = chartFont();
  ctx.textBaseline = 'middle';
  ctx.lineWidth = 1;
  ctx.strokeStyle = p.grid;
  ctx.fillStyle = p.muted;
  ctx.textAlign = 'right';
  for (let b = 0; b <= top + 1e-9; b += step) {
    const yy = Math.round(y(b)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(plotLeft, yy);
    ctx.lineTo(plotRight, yy);
    ctx.stroke();
    ctx.fillText(formatBytes(b), plotLeft - 6, yy);
  }
  const { ticks, step: tstep } = timeTicks(axis.start, axis.end, plotRight - plotLeft);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const t of ticks) {
    const xx = Math.round(xOf(axis, t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(xx, plotBottom);
    ctx.lineTo(xx, plotBottom + 4);
    ctx.stroke();
    ctx.fillText(formatClock(t, tstep < 1000), xx, plotBottom + 6);
  }

  ctx.save();
  ctx.beginPath();
  ctx.rect(plotLeft, plotTop, plotRight - plotLeft, plotBottom - plotTop);
  ctx.clip();
  for (const seg of segments(points, markers)) {
    for (let k = LEVELS - 1; k >= 0; k--) {
      ctx.beginPath();
      ctx.moveTo(seg[0].x, plotBottom);
      for (const pt of seg) ctx.lineTo(pt.x, y(pt.cum[k]));
      ctx.lineTo(seg[seg.length - 1].x, plotBottom);
      ctx.closePath();
      ctx.fillStyle = p.category[MEMORY_CATEGORIES[k]];
      ctx.fill();
    }
    ctx.beginPath();
    ctx.strokeStyle = p.rss;
    ctx.lineWidth = p.highContrast ? 2.5 : 1.75;
    seg.forEach((pt, i) => {
      if (i === 0) ctx.moveTo(pt.x, y(pt.rssMax));
      else ctx.lineTo(pt.x, y(pt.rssMax));
      if (pt.rssMin < pt.rssMax) {
        ctx.lineTo(pt.x, y(pt.rssMin));
        ctx.moveTo(pt.x, y(pt.rssMax));
      }
    });
    ctx.stroke();
  }
  drawMarkers(ctx, p, markers, axis, plotTop, plotBottom);
  ctx.restore();
  drawMarkerLabels(ctx, p, markers, axis);

  ctx.strokeStyle = p.border || p.grid;
  ctx.lineWidth = 1;
  ctx.strokeRect(plotLeft + 0.5, plotTop + 0.5, plotRight - plotLeft - 1, plotBottom - plotTop);

  if (hoverX !== null) {
    const xx = Math.round(hoverX) + 0.5;
    ctx.strokeStyle = p.foreground;
    ctx.setLineDash([2, 3]);
    ctx.beginPath();
    ctx.moveTo(xx, plotTop);
    ctx.lineTo(xx, plotBottom);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}
