// The Fit view's two uPlot charts: the log-likelihood by optimizer step (a line,
// redrawn as steps arrive) and the observed vs expected spectrum (bars side by side
// at each entry the fit used).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { FitResult, FitStep } from '../../extension/protocol/webview';
import { readout, themedAxis, tickLabels } from '../chart/uplotTheme';
import type { Palette } from '../theme';

function axis(palette: Palette, label: string, size?: number): uPlot.Axis {
  return {
    ...themedAxis(palette, label),
    ...(size === undefined ? {} : { size }),
    values: tickLabels,
  };
}

export function drawLoglik(target: HTMLElement, steps: FitStep[], width: number, palette: Palette): uPlot {
  const x = steps.map((_, i) => i + 1);
  const y = steps.map((s) => s.loglik);
  return new uPlot(
    {
      width,
      height: 200,
      scales: { x: { time: false } },
      // Steps are whole: ticks at 1, 2, 5, 10, … steps apart, never between two.
      axes: [
        { ...axis(palette, 'step'), incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] },
        axis(palette, 'log-likelihood', 80),
      ],
      series: [
        { label: 'step', value: readout },
        {
          label: 'log-likelihood',
          stroke: palette.series[0],
          width: palette.highContrast ? 2.5 : 1.5,
          points: { show: true, size: 5 },
          value: readout,
        },
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    },
    [x, y],
    target,
  );
}

export function drawSpectrum(target: HTMLElement, r: FitResult, width: number, palette: Palette): uPlot {
  const entries = r.observed.flatMap((o, i) => (o === null ? [] : [i]));
  const bars = (align: -1 | 1) => uPlot.paths.bars?.({ size: [0.35, Infinity], align });
  return new uPlot(
    {
      width,
      height: 240,
      scales: {
        x: { time: false, range: (_u, lo, hi) => [lo - 0.6, hi + 0.6] },
        y: { range: (_u, _lo, hi) => [0, hi > 0 ? hi * 1.05 : 1] },
      },
      axes: [
        { ...axis(palette, 'derived alleles (entry)'), incrs: [1], values: (_u, s) => s.map((v) => String(v)) },
        axis(palette, 'sites', 70),
      ],
      series: [
        { label: 'entry', value: readout },
        {
          label: 'observed',
          stroke: palette.series[0],
          fill: palette.series[0],
          paths: bars(-1),
          points: { show: false },
          value: readout,
        },
        {
          label: 'expected',
          stroke: palette.series[1 % palette.series.length],
          fill: palette.series[1 % palette.series.length],
          paths: bars(1),
          points: { show: false },
          value: readout,
        },
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    },
    [entries, entries.map((i) => r.observed[i]), entries.map((i) => r.expected[i])],
    target,
  );
}
