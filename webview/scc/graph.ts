// The condensation DAG on a canvas, at the positions the host computed
// (extension/host/panel/layout.ts): one node per SCC, area by vertex count, colour by
// how its trace was obtained. Level of detail keeps thousands of components smooth:
// nodes smaller than two pixels become batched squares, edges fade and straighten
// when there are many of them at a small scale, and only what is on screen is drawn.
import type { SccInfo, TraceSource } from '../../extension/protocol/engine';
import type { PanelRun } from '../../extension/protocol/webview';
import { formatBytes, formatCount, formatMs } from '../../extension/protocol/format';
import { chartFont, chartWidth, sizeCanvas, watchSize } from '../chart/canvas';
import { DiscGrid } from '../chart/hitTest';
import { Tooltip } from '../chart/tooltip';
import { attachKeys, attachPointer, PlaneView } from '../chart/viewport';
import { el } from '../dom';
import { frameScheduler } from '../frame';
import type { Palette } from '../theme';

const HEIGHT = 520;
/** Hit-test buckets, in layout units: larger than any node's radius plus the slack. */
const CELL = 64;
const SOURCES: TraceSource[] = ['trivial', 'disk', 'memory', 'recorded'];

export const SOURCE_LABELS: Record<TraceSource, string> = {
  recorded: 'Recorded now',
  memory: 'Memory cache',
  disk: 'Disk cache',
  trivial: 'Trivial (no trace)',
};

export function describeScc(s: SccInfo): string[] {
  return [
    `${formatCount(s.vertices)} ${s.vertices === 1 ? 'vertex' : 'vertices'}${s.absorbing ? ' (absorbing)' : ''}`,
    `${formatCount(s.internalEdges)} internal, ${formatCount(s.exitEdges)} exit edges`,
    `trace: ${SOURCE_LABELS[s.source]}`,
    ...(s.source === 'trivial' ? [] : [`${formatCount(s.operations)} operations, ${formatBytes(s.bytes)}`]),
    ...(s.source === 'recorded' ? [`recorded in ${formatMs(s.recordMs)}`] : []),
    ...(s.key ? [`cache key ${s.key}`] : []),
  ];
}

export class SccGraph {
  readonly canvas = el('canvas', { tabindex: '0', role: 'img', class: 'scc-canvas' });
  private readonly tooltip = new Tooltip();
  readonly element = el('div', { class: 'scc-frame' }, this.canvas, this.tooltip.element);
  private run: PanelRun | null = null;
  private grid = new DiscGrid([], CELL);
  private succ: number[][] = [];
  private pred: number[][] = [];
  /** Layout units to screen pixels; y is stretched by `aspect` (≥ 1 for flat layouts). */
  private readonly view = new PlaneView(0.02, 40);
  private hover: number | null = null;
  private hoverPos = { x: 0, y: 0 };
  selected: number | null = null;
  /** The translation when the current drag began. */
  private dragFrom = { tx: 0, ty: 0 };
  private width = 0;
  /** True until the user zooms or pans: then a resize (or the tab appearing) re-fits. */
  private autoFit = true;

  constructor(
    private palette: Palette,
    private readonly onSelect: (id: number | null) => void,
  ) {
    this.listen();
    watchSize(this.element, () => (this.autoFit ? this.fit() : this.requestRender()));
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.requestRender();
  }

  setRun(run: PanelRun | null): void {
    this.run = run;
    this.selected = null;
    this.hover = null;
    this.grid = new DiscGrid([], CELL);
    if (!run) return;
    const n = run.decomposition.sccs.length;
    this.succ = Array.from({ length: n }, () => []);
    this.pred = Array.from({ length: n }, () => []);
    for (const [a, b] of run.decomposition.edges) {
      this.succ[a].push(b);
      this.pred[b].push(a);
    }
    this.grid = new DiscGrid(run.layout.nodes, CELL);
    this.fit();
  }

  fit(): void {
    if (!this.run) return;
    const w = chartWidth(this.element);
    const { width, height } = this.run.layout;
    // A wide DAG (many layers, few components each) is stretched vertically to use
    // the canvas; node sizes follow the smaller of the two scales, so none overlap.
    const fx = w / Math.max(1, width);
    const fy = HEIGHT / Math.max(1, height);
    const v = this.view;
    v.scale = Math.min(2, fx, fy);
    v.aspect = Math.max(1, Math.min(10, fy / v.scale, 2 / v.scale));
    v.tx = (w - width * v.scale) / 2;
    v.ty = (HEIGHT - height * v.scale * v.aspect) / 2;
    this.autoFit = true;
    this.requestRender();
  }

  zoom(factor: number, cx = this.width / 2, cy = HEIGHT / 2): void {
    this.view.zoomAt(factor, cx, cy);
    this.autoFit = false;
    this.requestRender();
  }

  /** Selects a component and pans it into view (keyboard and table navigation). */
  select(id: number | null, reveal = false): void {
    this.selected = id;
    if (id !== null && reveal && this.run) {
      const n = this.run.layout.nodes[id];
      const { x: sx, y: sy } = this.view.toScreen(n.x, n.y);
      if (sx < 20 || sx > this.width - 20 || sy < 20 || sy > HEIGHT - 20) {
        this.view.tx += this.width / 2 - sx;
        this.view.ty += HEIGHT / 2 - sy;
        this.autoFit = false;
      }
    }
    this.onSelect(id);
    this.requestRender();
  }

  readonly requestRender = frameScheduler(() => this.render());

  private nodeAt(sx: number, sy: number): number | null {
    if (!this.run) return null;
    const { x, y } = this.view.toPlane(sx, sy);
    return this.grid.nearest(x, y, 4 / this.view.scale, this.view.aspect);
  }

  private listen(): void {
    const v = this.view;
    attachPointer(this.canvas, {
      clickSlop: 3,
      zoom: (m, x, y) => this.zoom(m, x, y),
      dragStart: () => (this.dragFrom = { tx: v.tx, ty: v.ty }),
      drag: (dx, dy) => {
        this.autoFit = false;
        v.tx = this.dragFrom.tx + dx;
        v.ty = this.dragFrom.ty + dy;
      },
      click: (x, y) => this.select(this.nodeAt(x, y)),
      hover: (x, y) => {
        this.hover = this.nodeAt(x, y);
        this.hoverPos = { x, y };
        this.requestRender();
      },
      leave: () => {
        this.hover = null;
        this.requestRender();
      },
    });
    attachKeys(this.canvas, (key) => this.keyAction(key));
  }

  /** Arrows walk the DAG: up/down within a layer (a column), left/right along edges. */
  private keyAction(key: string): (() => void) | undefined {
    const run = this.run;
    if (!run) return undefined;
    const nodes = run.layout.nodes;
    const cur = this.selected;
    const inLayer = (dir: number) => {
      if (cur === null) return this.select(0, true);
      const row = nodes.filter((n) => n.layer === nodes[cur].layer).sort((a, b) => a.y - b.y);
      const i = row.findIndex((n) => n.id === cur);
      const next = row[i + dir];
      if (next) this.select(next.id, true);
    };
    const along = (edges: number[][]) => {
      if (cur === null) return this.select(0, true);
      const options = edges[cur];
      if (options.length === 0) return;
      const y = nodes[cur].y;
      const best = options.reduce((a, b) => (Math.abs(nodes[a].y - y) <= Math.abs(nodes[b].y - y) ? a : b));
      this.select(best, true);
    };
    const keys: Record<string, () => void> = {
      ArrowUp: () => inLayer(-1),
      ArrowDown: () => inLayer(1),
      ArrowRight: () => along(this.succ),
      ArrowLeft: () => along(this.pred),
      '+': () => this.zoom(1.5),
      '=': () => this.zoom(1.5),
      '-': () => this.zoom(1 / 1.5),
      '0': () => this.fit(),
      Escape: () => this.select(null),
    };
    return keys[key];
  }

  render(): void {
    const began = performance.now();
    this.width = chartWidth(this.element);
    const ctx = sizeCanvas(this.canvas, this.width, HEIGHT);
    ctx.clearRect(0, 0, this.width, HEIGHT);
    const run = this.run;
    if (!run) {
      this.tooltip.hide();
      this.canvas.setAttribute('aria-label', 'SCC decomposition: no run yet');
      return;
    }
    const p = this.palette;
    const { nodes } = run.layout;
    const { sccs, edges } = run.decomposition;
    const { scale: s, aspect, tx, ty } = this.view;
    const X = (x: number) => x * s + tx;
    const Y = (y: number) => y * s * aspect + ty;
    const visible = (x: number, y: number, r: number) =>
      X(x) + r * s >= 0 && X(x) - r * s <= this.width && Y(y) + r * s >= 0 && Y(y) - r * s <= HEIGHT;

    // Edges: curves when few, faded straight lines when many and small.
    const crowded = edges.length > 3000 && s < 0.6;
    ctx.strokeStyle = p.muted;
    ctx.globalAlpha = crowded ? 0.12 : p.highContrast ? 0.8 : 0.4;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const [a, b] of edges) {
      const na = nodes[a];
      const nb = nodes[b];
      const x1 = X(na.x);
      const y1 = Y(na.y);
      const x2 = X(nb.x);
      const y2 = Y(nb.y);
      if (Math.max(x1, x2) < 0 || Math.min(x1, x2) > this.width || Math.max(y1, y2) < 0 || Math.min(y1, y2) > HEIGHT)
        continue;
      ctx.moveTo(x1, y1);
      if (crowded) ctx.lineTo(x2, y2);
      else {
        const xm = (x1 + x2) / 2;
        ctx.bezierCurveTo(xm, y1, xm, y2, x2, y2);
      }
    }
    ctx.stroke();
    ctx.globalAlpha = 1;

    // Edges of the focused component stand out.
    const focus = this.hover ?? this.selected;
    if (focus !== null) {
      ctx.strokeStyle = p.selection;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (const [a, b] of edges) {
        if (a !== focus && b !== focus) continue;
        const x1 = X(nodes[a].x);
        const x2 = X(nodes[b].x);
        const xm = (x1 + x2) / 2;
        ctx.moveTo(x1, Y(nodes[a].y));
        ctx.bezierCurveTo(xm, Y(nodes[a].y), xm, Y(nodes[b].y), x2, Y(nodes[b].y));
      }
      ctx.stroke();
    }

    // Nodes, batched by colour; dots below two pixels.
    let drawn = 0;
    for (const source of SOURCES) {
      ctx.fillStyle = p.source[source];
      ctx.beginPath();
      for (const n of nodes) {
        if (sccs[n.id].source !== source || !visible(n.x, n.y, n.r)) continue;
        const r = n.r * s;
        drawn++;
        if (r < 2) {
          const d = Math.max(1.5, 2 * r);
          ctx.rect(X(n.x) - d / 2, Y(n.y) - d / 2, d, d);
        } else {
          ctx.moveTo(X(n.x) + r, Y(n.y));
          ctx.arc(X(n.x), Y(n.y), r, 0, 2 * Math.PI);
        }
      }
      ctx.fill();
    }
    if (p.highContrast) {
      ctx.strokeStyle = p.border;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (const n of nodes) {
        const r = n.r * s;
        if (r < 3 || !visible(n.x, n.y, n.r)) continue;
        ctx.moveTo(X(n.x) + r, Y(n.y));
        ctx.arc(X(n.x), Y(n.y), r, 0, 2 * Math.PI);
      }
      ctx.stroke();
    }

    // Vertex counts inside nodes large enough to hold them.
    ctx.font = chartFont();
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillStyle = p.background;
    for (const n of nodes) {
      if (n.r * s < 11 || !visible(n.x, n.y, n.r)) continue;
      ctx.fillText(formatCount(sccs[n.id].vertices), X(n.x), Y(n.y));
    }

    for (const [id, width] of [
      [this.selected, 2.5],
      [this.hover, 1.5],
    ] as const) {
      if (id === null) continue;
      const n = nodes[id];
      ctx.strokeStyle = p.selection;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.arc(X(n.x), Y(n.y), Math.max(4, n.r * s) + 3, 0, 2 * Math.PI);
      ctx.stroke();
    }

    this.showTooltip();
    const counts = SOURCES.map(
      (src) => `${sccs.filter((c) => c.source === src).length} ${SOURCE_LABELS[src].toLowerCase()}`,
    );
    this.canvas.setAttribute(
      'aria-label',
      `Condensation of ${run.model.name}: ${sccs.length} components in ${run.layout.layers} layers, ${edges.length} edges; ${counts.join(', ')}. ` +
        (this.selected !== null ? `Selected SCC ${this.selected}. ` : '') +
        'Arrow keys move between components, plus and minus zoom, 0 fits.',
    );
    const renderMs = performance.now() - began;
    // Read by the tests: what was drawn and where.
    this.canvas.dataset.drawn = String(drawn);
    this.canvas.dataset.transform = `${s},${s * aspect},${tx},${ty}`;
    this.canvas.dataset.renderMs = renderMs.toFixed(2);
  }

  private showTooltip(): void {
    if (this.hover === null || !this.run) {
      this.tooltip.hide();
      return;
    }
    const scc = this.run.decomposition.sccs[this.hover];
    const lines = [
      el('div', { class: 'tip-title' }, `SCC ${scc.id}`),
      ...describeScc(scc).map((l) => el('div', {}, l)),
    ];
    this.tooltip.show(lines, this.hoverPos.x, this.hoverPos.y, { width: this.width, height: HEIGHT, dy: 10 });
  }
}
