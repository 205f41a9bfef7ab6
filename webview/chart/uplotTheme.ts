// What every uPlot chart of the panel shares: axes in the theme's colours and fonts,
// and the legend's readout of a value, in the panel's number format.
import type uPlot from 'uplot';
import { formatNumber } from '../../extension/protocol/format';
import type { Palette } from '../theme';

const FONT = '12px sans-serif';

/** An axis drawn in the palette's foreground and grid colours. */
export function themedAxis(palette: Palette, label: string): uPlot.Axis {
  return {
    stroke: palette.foreground,
    grid: { stroke: palette.grid, width: 1 },
    ticks: { stroke: palette.grid, width: 1 },
    font: FONT,
    labelFont: FONT,
    label,
  };
}

/** Tick labels in the panel's number format (uPlot gives null for a split it leaves unlabelled). */
export const tickLabels = (_u: uPlot, splits: (number | null | undefined)[]) =>
  splits.map((s) => (s === null || s === undefined ? '' : formatNumber(s)));

/** A series' value in the legend: the panel's number format, "—" where there is none. */
export const readout = (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : formatNumber(v));
