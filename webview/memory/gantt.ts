// The Gantt strip under the timeline: one bar per block subgraph from its creation to
// its release, packed into lanes, on the chart's time axis.
import type { TimelineBlock, TimelineMarker } from '../../extension/protocol/webview';
import { chartFont } from '../chart/canvas';
import { rowAt, spanAt } from '../chart/hitTest';
import type { Palette } from '../theme';
import { MARGIN, type TimeAxis, timeAt, xOf } from './axis';

const LANE_HEIGHT = 10;
const LANE_GAP = 3;
const LANE_PITCH = LANE_HEIGHT + LANE_GAP;
const FIRST_LANE = 9;
const MAX_LANES = 8;

export interface Bar {
  block: TimelineBlock;
  lane: number;
}

/**
 * Packs bars into lanes (recomputed each frame: a bar's end moves while it is alive)
 * so overlapping lifetimes never hide each other (up to MAX_LANES).
 */
export function layoutBars(blocks: readonly TimelineBlock[], latest: number): { bars: Bar[]; lanes: number } {
  const laneEnds: number[] = [];
  const bars = blocks.map((block) => {
    const end = block.freed ?? latest;
    let lane = laneEnds.findIndex((e) => e < block.created);
    if (lane < 0) {
      lane = laneEnds.length < MAX_LANES ? laneEnds.length : laneEnds.indexOf(Math.min(...laneEnds));
    }
    laneEnds[lane] = block.freed === null ? Number.POSITIVE_INFINITY : end;
    return { block, lane };
  });
  return { bars, lanes: Math.max(1, laneEnds.length) };
}

export function ganttHeight(lanes: number): number {
  return 18 + lanes * LANE_PITCH;
}

/** The bar under the point (x, y) of the strip, 3 px of slack on each end; still-alive bars end at `latest`. */
export function barAt(bars: readonly Bar[], axis: TimeAxis, x: number, y: number, latest: number): Bar | undefined {
  const lane = rowAt(y, FIRST_LANE, LANE_PITCH, LANE_GAP);
  const slack = (3 / (axis.right - axis.left)) * (axis.end - axis.start);
  return spanAt(bars, lane, timeAt(axis, x), slack, (b) => [b.block.created, b.block.freed ?? latest]);
}

export function drawGantt(
  ctx: CanvasRenderingContext2D,
  p: Palette,
  bars: readonly Bar[],
  lanes: number,
  markers: readonly TimelineMarker[],
  axis: TimeAxis,
  latest: number,
): void {
  const height = ganttHeight(lanes);
  const { left, right, start, end } = axis;
  ctx.clearRect(0, 0, right + MARGIN.right, height);
  ctx.font = chartFont();
  ctx.fillStyle = p.muted;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'top';
  ctx.fillText('Subgraphs', left - 6, 6);
  ctx.strokeStyle = p.border || p.grid;
  ctx.strokeRect(left + 0.5, 4.5, right - left - 1, height - 9);
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, 4, right - left, height - 8);
  ctx.clip();
  const laneY = (lane: number) => FIRST_LANE + lane * LANE_PITCH;
  for (const { block, lane } of bars) {
    const to = block.freed ?? latest;
    if (to < start || block.created > end) continue;
    let x0 = xOf(axis, block.created);
    const x1 = Math.max(x0 + 1.5, xOf(axis, to));
    const yy = laneY(lane);
    if (block.freed === null) {
      // Still alive: at least 8 px wide, striped in the warning colour over the
      // foreground, outlined, with an open right end; visible in every theme.
      const left = Math.min(x0, x1 - 8);
      ctx.fillStyle = p.alive;
      ctx.fillRect(left, yy, x1 - left, LANE_HEIGHT);
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, yy, x1 - left, LANE_HEIGHT);
      ctx.clip();
      ctx.strokeStyle = p.foreground;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (let sx = left - LANE_HEIGHT; sx < x1; sx += 5) {
        ctx.moveTo(sx, yy + LANE_HEIGHT);
        ctx.lineTo(sx + LANE_HEIGHT, yy);
      }
      ctx.stroke();
      ctx.restore();
      x0 = left;
      ctx.strokeStyle = p.foreground;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x1 + 6, yy - 0.5);
      ctx.lineTo(x0 + 0.5, yy - 0.5);
      ctx.lineTo(x0 + 0.5, yy + LANE_HEIGHT + 0.5);
      ctx.lineTo(x1 + 6, yy + LANE_HEIGHT + 0.5);
      ctx.stroke();
    } else {
      ctx.fillStyle = p.category.subgraphs;
      ctx.fillRect(x0, yy, x1 - x0, LANE_HEIGHT);
    }
  }
  for (const m of markers) {
    if (m.t < start || m.t > end || (m.kind !== 'runStart' && m.kind !== 'runEnd')) continue;
    const xx = Math.round(xOf(axis, m.t)) + 0.5;
    ctx.strokeStyle = p.marker;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(xx, 4);
    ctx.lineTo(xx, height - 4);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.restore();
}
