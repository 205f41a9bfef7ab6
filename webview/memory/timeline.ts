// The memory timeline: the stacked chart of accounted bytes (stack.ts) and below it
// the Gantt strip of block subgraphs (gantt.ts), on one time axis that the user pans
// and zooms, follows live data, and reads out on hover. Sizing, pan/zoom input,
// hit-testing and the tooltip are the charts' shared ones (webview/chart/).
import { MEMORY_CATEGORIES, totalBytes } from '../../extension/protocol/memory';
import type { TimelineBlock } from '../../extension/protocol/webview';
import { formatBytes, formatClock, formatDuration } from '../../extension/protocol/format';
import { chartWidth, sizeCanvas, watchSize } from '../chart/canvas';
import { nearestIndex } from '../chart/hitTest';
import { Tooltip } from '../chart/tooltip';
import { attachKeys, attachPointer, type Span, TimeWindow } from '../chart/viewport';
import { el } from '../dom';
import { frameScheduler } from '../frame';
import type { StudioStore } from '../store';
import { readPalette, type Palette } from '../theme';
import { button, checkbox, type Checkbox } from '../toolkit';
import { type TimeAxis, timeAt, timeAxis } from './axis';
import { barAt, drawGantt, ganttHeight, layoutBars } from './gantt';
import { bucketSamples, CHART_HEIGHT, drawStack } from './stack';
import { CATEGORY_LABELS } from './summary';

/** The narrowest window, ms. */
const MIN_SPAN_MS = 20;

export class TimelineChart {
  readonly element = el('div', { class: 'timeline' });
  private readonly chart = el('canvas', { tabindex: '0', role: 'img', class: 'chart-canvas' });
  private readonly gantt = el('canvas', { role: 'img', class: 'gantt-canvas' });
  private readonly tooltip = new Tooltip(false);
  private readonly follow: Checkbox;
  private palette: Palette = readPalette();
  private readonly window = new TimeWindow(() => {
    const start = this.store.earliest();
    return { start, end: Math.max(this.store.latest(), start + 1000) };
  }, MIN_SPAN_MS);
  private hover: { x: number; y: number; target: 'chart' | 'gantt' } | null = null;
  /** The window when the current drag began. */
  private dragFrom: Span = { start: 0, end: 0 };
  private width = 0;

  constructor(private readonly store: StudioStore) {
    this.follow = checkbox('Follow live', true, (on) => {
      if (on && this.window.isFixed) this.shiftToLatest();
      this.requestRender();
    });
    const toolbar = el(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Timeline controls' },
      button('+', () => this.zoom(0.5), { appearance: 'icon', ariaLabel: 'Zoom in', title: 'Zoom in (+)' }),
      button('\u2212', () => this.zoom(2), { appearance: 'icon', ariaLabel: 'Zoom out', title: 'Zoom out (−)' }),
      button('Fit', () => this.fit(), { ariaLabel: 'Show the whole session', title: 'Show everything (0)' }),
      this.follow.element,
    );
    const legend = el('div', { class: 'legend', 'aria-hidden': 'true' });
    for (const c of MEMORY_CATEGORIES)
      legend.append(el('span', {}, el('span', { class: `swatch cat-${c}` }), CATEGORY_LABELS[c]));
    legend.append(el('span', {}, el('span', { class: 'swatch rss' }), 'Resident (RSS)'));
    legend.append(el('span', {}, el('span', { class: 'swatch alive' }), 'Subgraph still alive'));
    const frame = el('div', { class: 'chart-frame' }, this.chart, this.gantt, this.tooltip.element);
    this.element.append(toolbar, legend, frame);
    this.chart.setAttribute('aria-roledescription', 'memory timeline');
    this.gantt.setAttribute('aria-label', 'Block subgraph lifetimes');
    this.listen();
    watchSize(frame, () => this.requestRender());
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.requestRender();
  }

  readonly requestRender = frameScheduler(() => this.render());

  // ---- viewport ----

  private axis(): TimeAxis {
    const { start, end } = this.window.range();
    return timeAxis(start, end, this.width);
  }

  /** Keeps a zoomed window's span and moves its right edge to the newest data. */
  private shiftToLatest(): void {
    if (!this.window.isFixed) return;
    const { start, end } = this.window.range();
    const span = end - start;
    const latest = Math.max(this.store.latest(), this.store.earliest() + span);
    this.window.set(latest - span, latest);
  }

  private zoom(factor: number, anchorX?: number): void {
    const a = this.axis();
    // Following: keep the right edge on the newest data.
    const anchor = this.follow.checked
      ? 1
      : anchorX === undefined
        ? 0.5
        : Math.min(1, Math.max(0, (anchorX - a.left) / (a.right - a.left)));
    this.window.zoom(factor, anchor);
    this.requestRender();
  }

  private pan(fraction: number): void {
    const { start, end } = this.window.range();
    this.window.panBy((end - start) * fraction);
    if (fraction < 0) this.follow.checked = false;
    this.requestRender();
  }

  fit(): void {
    this.window.showAll();
    this.follow.checked = true;
    this.requestRender();
  }

  // ---- input ----

  private listen(): void {
    for (const [canvas, target] of [
      [this.chart, 'chart'],
      [this.gantt, 'gantt'],
    ] as const) {
      attachPointer(canvas, {
        clickSlop: 0,
        zoom: (magnification, x) => this.zoom(1 / magnification, x),
        dragStart: () => (this.dragFrom = this.window.range()),
        drag: (dx) => {
          const a = this.axis();
          const span = this.dragFrom.end - this.dragFrom.start;
          const dt = (dx / (a.right - a.left)) * span;
          if (dt === 0) return;
          this.window.set(this.dragFrom.start - dt, this.dragFrom.end - dt);
          if (dt > 0) this.follow.checked = false;
        },
        hover: (x, y) => {
          this.hover = { x, y, target };
          this.requestRender();
        },
        leave: () => {
          this.hover = null;
          this.requestRender();
        },
      });
    }
    const keys: Record<string, () => void> = {
      ArrowLeft: () => this.pan(-0.1),
      ArrowRight: () => this.pan(0.1),
      '+': () => this.zoom(0.5),
      '=': () => this.zoom(0.5),
      '-': () => this.zoom(2),
      '0': () => this.fit(),
      Home: () => this.fit(),
      End: () => {
        this.follow.checked = true;
        this.shiftToLatest();
        this.requestRender();
      },
    };
    attachKeys(this.chart, (key) => keys[key]);
  }

  // ---- drawing ----

  render(): void {
    const began = performance.now();
    this.width = chartWidth(this.element);
    if (this.follow.checked) this.shiftToLatest();
    const axis = this.axis();
    const { start, end } = axis;
    const store = this.store;
    const points = bucketSamples(store.samples, axis);
    const hover = this.hover;
    const onPlot = hover?.target === 'chart' && hover.x >= axis.left && hover.x <= axis.right ? hover : null;
    drawStack(
      sizeCanvas(this.chart, this.width, CHART_HEIGHT),
      this.palette,
      points,
      store.markers,
      axis,
      onPlot?.x ?? null,
    );
    const latest = store.latest();
    const { bars, lanes } = layoutBars(store.blocks, latest);
    const ganttCtx = sizeCanvas(this.gantt, this.width, ganttHeight(lanes));
    drawGantt(ganttCtx, this.palette, bars, lanes, store.markers, axis, latest);

    if (onPlot) this.showSampleTooltip(timeAt(axis, onPlot.x), onPlot.x, onPlot.y);
    else if (hover?.target === 'gantt') {
      const hit = barAt(bars, axis, hover.x, hover.y, latest);
      if (hit) this.showBarTooltip(hit.block, latest, hover.x, CHART_HEIGHT + hover.y);
      else this.tooltip.hide();
    } else this.tooltip.hide();

    this.describe(start, end);
    const renderMs = performance.now() - began;
    // Read by the tests: the visible window and the cost of this frame.
    this.chart.dataset.window = `${start},${end}`;
    this.chart.dataset.points = String(points.length);
    this.chart.dataset.renderMs = renderMs.toFixed(2);
  }

  private showSampleTooltip(t: number, x: number, y: number): void {
    const s = this.store.samples;
    const i = nearestIndex(s.t, s.length, t);
    if (i < 0) {
      this.tooltip.hide();
      return;
    }
    const grid = el('dl', { class: 'tip-grid' });
    for (const c of [...MEMORY_CATEGORIES].reverse()) {
      grid.append(
        el('dt', {}, el('span', { class: `swatch cat-${c}` }), CATEGORY_LABELS[c]),
        el('dd', {}, formatBytes(s.cat[c][i])),
      );
    }
    grid.append(el('dt', {}, 'Accounted'), el('dd', {}, formatBytes(s.total(i))));
    grid.append(el('dt', {}, el('span', { class: 'swatch rss' }), 'Resident'), el('dd', {}, formatBytes(s.rss[i])));
    this.tooltip.show([el('div', { class: 'tip-title' }, formatClock(s.t[i], true)), grid], x, y, {
      width: this.width,
      dy: -10,
    });
  }

  private showBarTooltip(b: TimelineBlock, latest: number, x: number, y: number): void {
    const life =
      b.freed === null
        ? `still alive after ${formatDuration(latest - b.created)}`
        : `freed after ${formatDuration(b.freed - b.created)}`;
    const lines = [
      el('div', { class: 'tip-title' }, `Block subgraph of SCC ${b.scc}`),
      el('div', {}, `${b.vertices.toLocaleString('en-US')} vertices · ${formatBytes(b.bytes)}`),
      el('div', {}, `created ${formatClock(b.created, true)}, ${life}`),
    ];
    this.tooltip.show(lines, x, y, { width: this.width, dy: -10 });
  }

  /** The chart's text alternative, kept current for screen readers. */
  private describe(start: number, end: number): void {
    const s = this.store.samples;
    const alive = this.store.blocks.filter((b) => b.freed === null).length;
    if (s.length === 0) {
      this.chart.setAttribute('aria-label', 'Memory timeline: no samples yet');
      return;
    }
    let peak = 0;
    for (let i = s.lowerBound(start); i < s.length && s.t[i] <= end; i++) peak = Math.max(peak, s.total(i));
    const now = s.latest()!;
    const nowTotal = totalBytes(now.accounted);
    this.chart.setAttribute(
      'aria-label',
      `Memory timeline from ${formatClock(start)} to ${formatClock(end)}: accounted peak ${formatBytes(peak)}, ` +
        `now ${formatBytes(nowTotal)} accounted and ${formatBytes(now.rss)} resident; ` +
        `${this.store.blocks.length} block subgraphs, ${alive} still alive; ${this.store.markers.length} markers. ` +
        'Arrow keys pan, plus and minus zoom, 0 fits, End follows live data.',
    );
    this.gantt.setAttribute(
      'aria-label',
      `Block subgraph lifetimes: ${this.store.blocks.length} subgraphs, ${alive} still alive`,
    );
  }
}
