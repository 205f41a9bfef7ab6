// The memory timeline: accounted bytes stacked by category with the resident size
// as a line, markers for runs, cancellations, restarts and Clear Caches, and below it
// the Gantt strip of block subgraphs on the same time axis.
//
// Drawing cost is bounded by the canvas width, not the number of samples: visible
// samples are folded into one bucket per pixel column keeping each stack level's
// maximum and the resident size's minimum and maximum (min/max decimation), so
// 100,000 samples draw as ~1,000 points and no peak is ever hidden by thinning.
import { MEMORY_CATEGORIES, totalBytes } from '../../extension/protocol/memory';
import type { TimelineBlock, TimelineMarker } from '../../extension/protocol/webview';
import { el } from '../dom';
import { frameScheduler } from '../frame';
import { formatBytes, formatClock, formatDuration, formatFreed } from '../../extension/protocol/format';
import type { StudioStore } from '../store';
import { readPalette, type Palette } from '../theme';
import { button, checkbox, type Checkbox } from '../toolkit';
import { byteTicks, timeTicks } from './axes';
import { CATEGORY_LABELS } from './summary';

const MARGIN = { left: 64, right: 14, top: 36, bottom: 22 };
/** Marker labels sit in two rows above the plot. */
const LABEL_ROWS = [9, 25];
const CHART_HEIGHT = 260;
const LANE_HEIGHT = 10;
const LANE_GAP = 3;
const MAX_LANES = 8;
/** Samples further apart than this are not joined: the engine was not reporting. */
const MAX_JOIN_MS = 30_000;
const LEVELS = MEMORY_CATEGORIES.length;

interface Point {
  x: number;
  t: number;
  /** Cumulative tops, one per category (graph, graph+subgraphs, …). */
  cum: Float64Array;
  rssMin: number;
  rssMax: number;
}

interface Bar {
  block: TimelineBlock;
  lane: number;
}

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

export class TimelineChart {
  readonly element = el('div', { class: 'timeline' });
  private readonly chart = el('canvas', { tabindex: '0', role: 'img', class: 'chart-canvas' });
  private readonly gantt = el('canvas', { role: 'img', class: 'gantt-canvas' });
  private readonly tooltip = el('div', { class: 'tooltip', role: 'status', 'aria-live': 'off' });
  private readonly follow: Checkbox;
  private palette: Palette = readPalette();
  /** The visible window; null while showing everything. */
  private window: { start: number; end: number } | null = null;
  private hoverX: number | null = null;
  private hoverY = 0;
  private hoverTarget: 'chart' | 'gantt' | null = null;
  private drag: { x: number; start: number; end: number } | null = null;
  private bars: Bar[] = [];
  private lanes = 1;
  private width = 0;

  constructor(private readonly store: StudioStore) {
    this.follow = checkbox('Follow live', true, (on) => {
      if (on && this.window) this.shiftToLatest();
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
    const frame = el('div', { class: 'chart-frame' }, this.chart, this.gantt, this.tooltip);
    this.element.append(toolbar, legend, frame);
    this.chart.setAttribute('aria-roledescription', 'memory timeline');
    this.gantt.setAttribute('aria-label', 'Block subgraph lifetimes');
    this.listen();
    new ResizeObserver(() => this.requestRender()).observe(frame);
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.requestRender();
  }

  readonly requestRender = frameScheduler(() => this.render());

  // ---- viewport ----

  private range(): { start: number; end: number } {
    if (this.window) return this.window;
    const start = this.store.earliest();
    const end = Math.max(this.store.latest(), start + 1000);
    return { start, end };
  }

  private shiftToLatest(): void {
    if (!this.window) return;
    const span = this.window.end - this.window.start;
    const end = Math.max(this.store.latest(), this.store.earliest() + span);
    this.window = { start: end - span, end };
  }

  private zoom(factor: number, anchorX?: number): void {
    const { start, end } = this.range();
    const span = Math.max(20, (end - start) * factor);
    const plot = this.plotWidth();
    // Following: keep the right edge on the newest data.
    const frac = this.follow.checked
      ? 1
      : anchorX === undefined
        ? 0.5
        : Math.min(1, Math.max(0, (anchorX - MARGIN.left) / plot));
    const anchor = start + frac * (end - start);
    this.window = { start: anchor - frac * span, end: anchor - frac * span + span };
    this.requestRender();
  }

  private pan(fraction: number): void {
    const { start, end } = this.range();
    const d = (end - start) * fraction;
    this.window = { start: start + d, end: end + d };
    if (d < 0) this.follow.checked = false;
    this.requestRender();
  }

  fit(): void {
    this.window = null;
    this.follow.checked = true;
    this.requestRender();
  }

  private plotWidth(): number {
    return Math.max(10, this.width - MARGIN.left - MARGIN.right);
  }

  private xOf(t: number, start: number, end: number): number {
    return MARGIN.left + ((t - start) / (end - start)) * this.plotWidth();
  }

  // ---- input ----

  private listen(): void {
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      this.zoom(Math.exp(e.deltaY * 0.002), e.offsetX);
    };
    const onDown = (e: PointerEvent) => {
      const r = this.range();
      this.drag = { x: e.clientX, start: r.start, end: r.end };
      (e.target as HTMLElement).setPointerCapture(e.pointerId);
    };
    const onMove = (target: 'chart' | 'gantt') => (e: PointerEvent) => {
      if (this.drag) {
        const span = this.drag.end - this.drag.start;
        const dt = ((e.clientX - this.drag.x) / this.plotWidth()) * span;
        if (dt !== 0) {
          this.window = { start: this.drag.start - dt, end: this.drag.end - dt };
          if (dt > 0) this.follow.checked = false;
        }
      }
      this.hoverX = e.offsetX;
      this.hoverY = e.offsetY;
      this.hoverTarget = target;
      this.requestRender();
    };
    const onUp = () => (this.drag = null);
    const onLeave = () => {
      this.hoverX = null;
      this.hoverTarget = null;
      this.requestRender();
    };
    for (const [canvas, name] of [
      [this.chart, 'chart'],
      [this.gantt, 'gantt'],
    ] as const) {
      canvas.addEventListener('wheel', onWheel, { passive: false });
      canvas.addEventListener('pointerdown', onDown);
      canvas.addEventListener('pointermove', onMove(name));
      canvas.addEventListener('pointerup', onUp);
      canvas.addEventListener('pointerleave', onLeave);
    }
    this.chart.addEventListener('keydown', (e) => {
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
      const action = keys[e.key];
      if (action) {
        e.preventDefault();
        action();
      }
    });
  }

  // ---- drawing ----

  private size(canvas: HTMLCanvasElement, cssHeight: number): CanvasRenderingContext2D {
    const dpr = window.devicePixelRatio || 1;
    const cssWidth = this.width;
    if (canvas.width !== Math.round(cssWidth * dpr) || canvas.height !== Math.round(cssHeight * dpr)) {
      canvas.width = Math.round(cssWidth * dpr);
      canvas.height = Math.round(cssHeight * dpr);
      canvas.style.width = `${cssWidth}px`;
      canvas.style.height = `${cssHeight}px`;
    }
    const ctx = canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  render(): void {
    const began = performance.now();
    this.width = Math.max(200, this.element.clientWidth || 800);
    if (this.follow.checked) this.shiftToLatest();
    const { start, end } = this.range();
    const points = this.bucket(start, end);
    this.drawChart(points, start, end);
    this.drawGantt(start, end);
    this.describe(start, end);
    const renderMs = performance.now() - began;
    // Read by the tests: the visible window and the cost of this frame.
    this.chart.dataset.window = `${start},${end}`;
    this.chart.dataset.points = String(points.length);
    this.chart.dataset.renderMs = renderMs.toFixed(2);
  }

  /** Folds the visible samples (and one on each side) into one point per pixel column. */
  private bucket(start: number, end: number): Point[] {
    const s = this.store.samples;
    const from = Math.max(0, s.lowerBound(start) - 1);
    const to = Math.min(s.length, s.lowerBound(end) + 1);
    const plot = this.plotWidth();
    const points: Point[] = [];
    let column = NaN;
    let current: Point | null = null;
    let count = 0;
    for (let i = from; i < to; i++) {
      const x = MARGIN.left + ((s.t[i] - start) / (end - start)) * plot;
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
  private segments(points: Point[]): Point[][] {
    const restarts = this.store.markers.filter((m) => m.kind === 'restart').map((m) => m.t);
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

  private drawChart(points: Point[], start: number, end: number): void {
    const p = this.palette;
    const ctx = this.size(this.chart, CHART_HEIGHT);
    const plotTop = MARGIN.top;
    const plotBottom = CHART_HEIGHT - MARGIN.bottom;
    const plotLeft = MARGIN.left;
    const plotRight = this.width - MARGIN.right;
    ctx.clearRect(0, 0, this.width, CHART_HEIGHT);

    let max = 0;
    for (const pt of points) max = Math.max(max, pt.cum[LEVELS - 1], pt.rssMax);
    const { top, step } = byteTicks(max * 1.05);
    const y = (b: number) => plotBottom - (b / top) * (plotBottom - plotTop);

    ctx.font = `11px ${getComputedStyle(document.body).fontFamily}`;
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
    const { ticks, step: tstep } = timeTicks(start, end, plotRight - plotLeft);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of ticks) {
      const xx = Math.round(this.xOf(t, start, end)) + 0.5;
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
    for (const seg of this.segments(points)) {
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
    this.drawMarkers(ctx, start, end, plotTop, plotBottom);
    ctx.restore();
    this.drawMarkerLabels(ctx, start, end, plotLeft, plotRight);

    ctx.strokeStyle = p.border || p.grid;
    ctx.lineWidth = 1;
    ctx.strokeRect(plotLeft + 0.5, plotTop + 0.5, plotRight - plotLeft - 1, plotBottom - plotTop);

    if (this.hoverTarget === 'chart' && this.hoverX !== null && this.hoverX >= plotLeft && this.hoverX <= plotRight) {
      const xx = Math.round(this.hoverX) + 0.5;
      ctx.strokeStyle = p.foreground;
      ctx.setLineDash([2, 3]);
      ctx.beginPath();
      ctx.moveTo(xx, plotTop);
      ctx.lineTo(xx, plotBottom);
      ctx.stroke();
      ctx.setLineDash([]);
      this.showSampleTooltip(start + ((this.hoverX - plotLeft) / (plotRight - plotLeft)) * (end - start));
    } else if (this.hoverTarget !== 'gantt') {
      this.tooltip.hidden = true;
    }
  }

  private markerColour(m: TimelineMarker): string {
    const p = this.palette;
    if (m.kind === 'cancel') return p.alive;
    if (m.kind === 'clear') return p.category.cache;
    if (m.kind === 'restart') return p.rss;
    return p.marker;
  }

  private drawMarkers(ctx: CanvasRenderingContext2D, start: number, end: number, top: number, bottom: number): void {
    for (const m of this.store.markers) {
      if (m.t < start || m.t > end) continue;
      const xx = Math.round(this.xOf(m.t, start, end)) + 0.5;
      ctx.strokeStyle = this.markerColour(m);
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
  private drawMarkerLabels(
    ctx: CanvasRenderingContext2D,
    start: number,
    end: number,
    left: number,
    right: number,
  ): void {
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    const taken: Array<Array<[number, number]>> = LABEL_ROWS.map(() => []);
    const important = (m: TimelineMarker) => m.kind === 'clear' || m.kind === 'cancel' || m.kind === 'restart';
    const visible = this.store.markers.filter((m) => m.t >= start && m.t <= end);
    for (const m of [...visible.filter(important), ...visible.filter((x) => !important(x))]) {
      const text = markerLabel(m);
      const w = ctx.measureText(text).width;
      const at = Math.max(left, Math.min(this.xOf(m.t, start, end) + 3, right - w));
      const row = taken.findIndex((spans) => spans.every(([a, b]) => at + w + 6 <= a || at >= b + 6));
      if (row < 0) continue;
      taken[row].push([at, at + w]);
      ctx.fillStyle = important(m) ? this.markerColour(m) : this.palette.muted;
      ctx.fillText(text, at, LABEL_ROWS[row]);
    }
  }

  private showSampleTooltip(t: number): void {
    const s = this.store.samples;
    if (s.length === 0) {
      this.tooltip.hidden = true;
      return;
    }
    let i = s.lowerBound(t);
    if (i >= s.length || (i > 0 && t - s.t[i - 1] < s.t[i] - t)) i = Math.max(0, i - 1);
    this.tooltip.replaceChildren(el('div', { class: 'tip-title' }, formatClock(s.t[i], true)));
    const grid = el('dl', { class: 'tip-grid' });
    for (const c of [...MEMORY_CATEGORIES].reverse()) {
      grid.append(
        el('dt', {}, el('span', { class: `swatch cat-${c}` }), CATEGORY_LABELS[c]),
        el('dd', {}, formatBytes(s.cat[c][i])),
      );
    }
    grid.append(el('dt', {}, 'Accounted'), el('dd', {}, formatBytes(s.total(i))));
    grid.append(el('dt', {}, el('span', { class: 'swatch rss' }), 'Resident'), el('dd', {}, formatBytes(s.rss[i])));
    this.tooltip.append(grid);
    this.placeTooltip(this.hoverX!, this.hoverY);
  }

  private placeTooltip(x: number, y: number): void {
    this.tooltip.hidden = false;
    const w = this.tooltip.offsetWidth;
    this.tooltip.style.left = `${x + 14 + w > this.width ? x - 14 - w : x + 14}px`;
    this.tooltip.style.top = `${Math.max(0, y - 10)}px`;
  }

  /** Packs bars into lanes (recomputed each frame: a bar's end moves while it is alive) so overlapping lifetimes never hide each other (up to MAX_LANES). */
  private layoutBars(): void {
    const laneEnds: number[] = [];
    const latest = this.store.latest();
    this.bars = this.store.blocks.map((block) => {
      const end = block.freed ?? latest;
      let lane = laneEnds.findIndex((e) => e < block.created);
      if (lane < 0) {
        lane = laneEnds.length < MAX_LANES ? laneEnds.length : laneEnds.indexOf(Math.min(...laneEnds));
      }
      laneEnds[lane] = block.freed === null ? Infinity : end;
      return { block, lane };
    });
    this.lanes = Math.max(1, laneEnds.length);
  }

  private drawGantt(start: number, end: number): void {
    this.layoutBars();
    const p = this.palette;
    const height = 18 + this.lanes * (LANE_HEIGHT + LANE_GAP);
    const ctx = this.size(this.gantt, height);
    ctx.clearRect(0, 0, this.width, height);
    const left = MARGIN.left;
    const right = this.width - MARGIN.right;
    ctx.font = `11px ${getComputedStyle(document.body).fontFamily}`;
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
    const latest = this.store.latest();
    const laneY = (lane: number) => 9 + lane * (LANE_HEIGHT + LANE_GAP);
    for (const { block, lane } of this.bars) {
      const to = block.freed ?? latest;
      if (to < start || block.created > end) continue;
      let x0 = this.xOf(block.created, start, end);
      const x1 = Math.max(x0 + 1.5, this.xOf(to, start, end));
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
    for (const m of this.store.markers) {
      if (m.t < start || m.t > end || (m.kind !== 'runStart' && m.kind !== 'runEnd')) continue;
      const xx = Math.round(this.xOf(m.t, start, end)) + 0.5;
      ctx.strokeStyle = p.marker;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(xx, 4);
      ctx.lineTo(xx, height - 4);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.restore();
    if (this.hoverTarget === 'gantt' && this.hoverX !== null) {
      const lane = Math.floor((this.hoverY - 9 + LANE_GAP / 2) / (LANE_HEIGHT + LANE_GAP));
      const t = start + ((this.hoverX - left) / (right - left)) * (end - start);
      const slack = (3 / (right - left)) * (end - start);
      const hit = this.bars.find(
        (b) => b.lane === lane && b.block.created - slack <= t && (b.block.freed ?? latest) + slack >= t,
      );
      if (hit) this.showBarTooltip(hit.block, latest);
      else this.tooltip.hidden = true;
    }
  }

  private showBarTooltip(b: TimelineBlock, latest: number): void {
    const life =
      b.freed === null
        ? `still alive after ${formatDuration(latest - b.created)}`
        : `freed after ${formatDuration(b.freed - b.created)}`;
    this.tooltip.replaceChildren(
      el('div', { class: 'tip-title' }, `Block subgraph of SCC ${b.scc}`),
      el('div', {}, `${b.vertices.toLocaleString('en-US')} vertices · ${formatBytes(b.bytes)}`),
      el('div', {}, `created ${formatClock(b.created, true)}, ${life}`),
    );
    this.placeTooltip(this.hoverX!, CHART_HEIGHT + this.hoverY);
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
