// The Distribution view's two plots (density and CDF of the chosen rewards, overlaid)
// drawn by uPlot. Each reward comes on its own time grid (the engine picks 0 to its
// 0.999 quantile), so the curves are joined on the union of the grids; a curve has no
// value at the other curves' points and its line spans them (straight between its
// own exact values), and the hover readout shows "—" for it there.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { DistributionResult } from '../../extension/protocol/webview';
import { formatNumber } from '../../extension/protocol/format';
import { el } from '../dom';
import { readout, themedAxis, tickLabels } from '../chart/uplotTheme';
import type { Palette } from '../theme';

export type Curve = 'pdf' | 'cdf' | 'survival';

export const CURVE_TITLES: Record<Curve, string> = { pdf: 'Density', cdf: 'CDF', survival: 'Survival P(Y > t)' };

/**
 * The results' curves on the union of their time grids (uPlot's aligned data). A null
 * stays null (a value not drawn: ≤ 0 on a log axis, or a survival below its floor),
 * while a time off a curve's own grid is undefined: the readout tells the two apart.
 */
export function alignedCurves(results: DistributionResult[], curve: Curve, log: boolean): uPlot.AlignedData {
  const tables = results.map(
    (r) =>
      [
        r.times,
        (r[curve] as Array<number | null>).map((y) => (y === null || (log && y <= 0) ? null : y)),
      ] as unknown as uPlot.AlignedData,
  );
  return uPlot.join(
    tables,
    tables.map(() => [1]),
  );
}

/** The first time of each result whose survival is below its floor (null), if any. */
export function belowFloorFrom(r: DistributionResult): number | undefined {
  const i = r.survival.findIndex((s) => s === null);
  return i < 0 ? undefined : r.times[i];
}

export interface ChartSpec {
  curve: Curve;
  results: DistributionResult[];
  log: boolean;
  width: number;
  palette: Palette;
  /** After each drawing (uPlot draws in a microtask after construction), with the y-axis ticks it chose. */
  onDraw(plot: uPlot, yTicks: number[]): void;
}

export function drawChart(target: HTMLElement, spec: ChartSpec): uPlot {
  const { palette, results, curve } = spec;
  // The survival is read on a log axis only: its tail is what it is for.
  const log = spec.log || curve === 'survival';
  let yTicks: number[] = [];
  const axis = (label: string) => themedAxis(palette, label);
  const opts: uPlot.Options = {
    width: spec.width,
    height: 260,
    title: undefined,
    scales: {
      x: { time: false, range: (_u, lo, hi) => [0, hi > lo ? hi : lo + 1] },
      y:
        curve === 'cdf'
          ? { range: [0, 1] }
          : log
            ? { distr: 3 }
            : { range: (_u, _lo, hi) => [0, hi > 0 ? hi * 1.05 : 1] },
    },
    axes: [
      { ...axis('t'), values: tickLabels },
      {
        ...axis(
          curve === 'cdf' ? 'P(Y ≤ t)' : curve === 'survival' ? 'P(Y > t) (log)' : log ? 'density (log)' : 'density',
        ),
        size: 70,
        values: (_u, splits) => {
          // uPlot leaves out some splits of a log axis as nulls (too dense to label).
          yTicks = splits.filter((s) => s !== null && s !== undefined);
          return splits.map((s) => (s === null || s === undefined ? '' : log ? s.toExponential(0) : formatNumber(s)));
        },
      },
    ],
    series: [
      { label: 't', value: readout },
      ...results.map((r, i) => ({
        label: r.reward,
        stroke: palette.series[i % palette.series.length],
        width: palette.highContrast ? 2.5 : 1.5,
        spanGaps: true,
        points: { show: false },
        // A survival's null is a value below its floor, not a time off its grid.
        value:
          curve === 'survival'
            ? (u: uPlot, v: number | null | undefined) =>
                v === null ? `< ${r.survivalFloor.toExponential(0)}` : readout(u, v ?? null)
            : readout,
      })),
    ],
    // One cursor for both charts: hovering either reads density and CDF at the same t.
    cursor: { drag: { x: false, y: false }, points: { size: 7 }, sync: { key: 'distribution', scales: ['x', null] } },
    legend: { live: true },
    hooks: {
      draw: [
        (u) => {
          if (curve === 'survival') drawFloorNotes(u, results, palette);
          else drawAtoms(u, results, curve, palette);
          spec.onDraw(u, yTicks);
        },
      ],
    },
  };
  return new uPlot(opts, alignedCurves(results, curve, log), target);
}

/**
 * The atom P(Y = 0): on the CDF a filled dot at (0, atom), the jump the curve starts
 * from; on the density an arrow at t = 0 (a point mass has no density) labelled with
 * its probability.
 */
function drawAtoms(u: uPlot, results: DistributionResult[], curve: Curve, palette: Palette): void {
  const ctx = u.ctx;
  const dpr = devicePixelRatio || 1;
  const x = u.valToPos(0, 'x', true);
  results.forEach((r, i) => {
    if (!(r.atom > 0)) return;
    const color = palette.series[i % palette.series.length];
    ctx.save();
    ctx.fillStyle = color;
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * dpr;
    if (curve === 'cdf') {
      const y = u.valToPos(r.atom, 'y', true);
      ctx.beginPath();
      ctx.arc(x, y, 4 * dpr, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      // The arrow at t = 0, its label in the plot's top right corner (clear of the curves' start).
      const top = u.bbox.top + (14 + 18 * i) * dpr;
      const bottom = u.bbox.top + u.bbox.height;
      const ax = x + 2 * dpr * (i + 1);
      ctx.beginPath();
      ctx.moveTo(ax, bottom);
      ctx.lineTo(ax, u.bbox.top + 4 * dpr);
      ctx.moveTo(ax - 4 * dpr, u.bbox.top + 10 * dpr);
      ctx.lineTo(ax, u.bbox.top + 4 * dpr);
      ctx.lineTo(ax + 4 * dpr, u.bbox.top + 10 * dpr);
      ctx.stroke();
      ctx.font = `${12 * dpr}px sans-serif`;
      ctx.textBaseline = 'middle';
      ctx.textAlign = 'right';
      ctx.fillText(
        `atom at 0: P(${r.reward} = 0) = ${formatNumber(r.atom)}`,
        u.bbox.left + u.bbox.width - 8 * dpr,
        top,
      );
    }
    ctx.restore();
  });
}

/**
 * Where a survival falls below its floor (1e-289, decision 94) the line ends: a log
 * axis has no 0 to draw it at, and a marker at the floor would claim a value the engine
 * did not resolve and stretch the axis over ~289 decades. The gap is labelled instead,
 * with a tick on the axis at the first time below the floor.
 */
function drawFloorNotes(u: uPlot, results: DistributionResult[], palette: Palette): void {
  const ctx = u.ctx;
  const dpr = devicePixelRatio || 1;
  results.forEach((r, i) => {
    const from = belowFloorFrom(r);
    if (from === undefined) return;
    const color = palette.series[i % palette.series.length];
    const x = u.valToPos(from, 'x', true);
    const bottom = u.bbox.top + u.bbox.height;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 2 * dpr;
    ctx.beginPath();
    ctx.moveTo(x, bottom);
    ctx.lineTo(x, bottom - 10 * dpr);
    ctx.stroke();
    ctx.font = `${12 * dpr}px sans-serif`;
    ctx.textBaseline = 'bottom';
    ctx.textAlign = 'right';
    ctx.fillText(
      `P(${r.reward} > t) below ${r.survivalFloor.toExponential(0)} from t = ${formatNumber(from)}`,
      u.bbox.left + u.bbox.width - 8 * dpr,
      bottom - (14 + 18 * i) * dpr,
    );
    ctx.restore();
  });
}

/** The charts stacked into one PNG with a white-or-theme background, titles and a legend. */
export function chartsPng(charts: Array<{ title: string; plot: uPlot }>, names: string[], palette: Palette): string {
  const dpr = devicePixelRatio || 1;
  const pad = 12 * dpr;
  const line = 20 * dpr;
  const width = Math.max(...charts.map((c) => c.plot.ctx.canvas.width)) + 2 * pad;
  const height = charts.reduce((h, c) => h + line + c.plot.ctx.canvas.height, pad * 2 + line);
  const canvas = el('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = palette.background || '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.font = `${13 * dpr}px sans-serif`;
  ctx.textBaseline = 'top';
  let x = pad;
  names.forEach((name, i) => {
    ctx.fillStyle = palette.series[i % palette.series.length];
    ctx.fillRect(x, pad + 4 * dpr, 14 * dpr, 3 * dpr);
    x += 18 * dpr;
    ctx.fillStyle = palette.foreground;
    ctx.fillText(name, x, pad);
    x += ctx.measureText(name).width + 16 * dpr;
  });
  let y = pad + line;
  for (const c of charts) {
    ctx.fillStyle = palette.foreground;
    ctx.fillText(c.title, pad, y);
    y += line;
    ctx.drawImage(c.plot.ctx.canvas, pad, y);
    y += c.plot.ctx.canvas.height;
  }
  return canvas.toDataURL('image/png');
}
