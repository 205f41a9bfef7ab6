// The condensation DAG on a canvas, at the positions the host computed
// (extension/host/panel/layout.ts): one node per SCC, area by vertex count, colour by
// how its trace was obtained. Level of detail keeps thousands of components smooth:
// nodes smaller than two pixels become batched squares, edges fade and straighten
// when there are many of them at a small scale, and only what is on screen is drawn.
import type { SccInfo, TraceSource } from '../../extension/protocol/engine';
import type { PanelRun } from '../../extension/protocol/webview';
import { el } from '../dom';
import { frameScheduler } from '../frame';
import { formatBytes, formatCount, formatMs } from '../../extension/protocol/format';
import type { Palette } from '../theme';

const HEIGHT = 520;
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
  private readonly tooltip = el('div', { class: 'tooltip', role: 'status' });
  readonly element = el('div', { class: 'scc-frame' }, this.canvas, this.tooltip);
  private run: PanelRun | null = null;
  private grid = new Map<string, number[]>();
  private succ: number[][] = [];
  private pred: number[][] = [];
  /** Screen pixels per layout unit along x; y is stretched by `aspect` (≥ 1 for flat layouts). */
  private scale = 1;
  private aspect = 1;
  private tx = 0;
  private ty = 0;
  private hover: number | null = null;
  private hoverPos = { x: 0, y: 0 };
  selected: number | null = null;
  private drag: { x: number; y: number; tx: number; ty: number; moved: boolean } | null = null;
  private width = 0;
  /** True until the user zooms or pans: then a resize (or the tab appearing) re-fits. */
  private autoFit = true;

  constructor(
    private palette: Palette,
    private readonly onSelect: (id: number | null) => void,
  ) {
    this.listen();
    new ResizeObserver(() => (this.autoFit ? this.fit() : this.requestRender())).observe(this.element);
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.requestRender();
  }

  setRun(run: PanelRun | null): void {
    this.run = run;
    this.selected = null;
    this.hover = null;
    this.grid.clear();
    if (!run) return;
    const n = run.decomposition.sccs.length;
    this.succ = Array.from({ length: n }, () => []);
    this.pred = Array.from({ length: n }, () => []);
    for (const [a, b] of run.decomposition.edges) {
      this.succ[a].push(b);
      this.pred[b].push(a);
    }
    for (const node of run.layout.nodes) {
      const key = `${Math.floor(node.x / CELL)},${Math.floor(node.y / CELL)}`;
      const cell = this.grid.get(key);
      if (cell) cell.push(node.id);
      else this.grid.set(key, [node.id]);
    }
    this.fit();
  }

  fit(): void {
    if (!this.run) return;
    const w = Math.max(200, this.element.clientWidth || 800);
    const { width, height } = this.run.layout;
    // A wide DAG (many layers, few components each) is stretched vertically to use
    // the canvas; node sizes follow the smaller of the two scales, so none overlap.
    const fx = w / Math.max(1, width);
    const fy = HEIGHT / Math.max(1, height);
    this.scale = Math.min(2, fx, fy);
    this.aspect = Math.max(1, Math.min(10, fy / this.scale, 2 / this.scale));
    this.tx = (w - width * this.scale) / 2;
    this.ty = (HEIGHT - height * this.scale * this.aspect) / 2;
    this.autoFit = true;
    this.requestRender();
  }

  zoom(factor: number, cx = this.width / 2, cy = HEIGHT / 2): void {
    const s = Math.min(40, Math.max(0.02, this.scale * factor));
    this.tx = cx - ((cx - this.tx) * s) / this.scale;
    this.ty = cy - ((cy - this.ty) * s) / this.scale;
    this.scale = s;
    this.autoFit = false;
    this.requestRender();
  }

  /** Selects a component and pans it into view (keyboard and table navigation). */
  select(id: number | null, reveal = false): void {
    this.selected = id;
    if (id !== null && reveal && this.run) {
      const n = this.run.layout.nodes[id];
      const sx = n.x * this.scale + this.tx;
      const sy = n.y * this.scale * this.aspect + this.ty;
      if (sx < 20 || sx > this.width - 20 || sy < 20 || sy > HEIGHT - 20) {
        this.tx += this.width / 2 - sx;
        this.ty += HEIGHT / 2 - sy;
        this.autoFit = false;
      }
    }
    this.onSelect(id);
    this.requestRender();
  }

  readonly requestRender = frameScheduler(() => this.render());

  private nodeAt(sx: number, sy: number): number | null {
    if (!this.run) return null;
    const x = (sx - this.tx) / this.scale;
    const y = (sy - this.ty) / (this.scale * this.aspect);
    const slack = 4 / this.scale;
    let best: number | null = null;
    let bestD = Infinity;
    const cx = Math.floor(x / CELL);
    const cy = Math.floor(y / CELL);
    for (let i = cx - 1; i <= cx + 1; i++) {
      for (let j = cy - 1; j <= cy + 1; j++) {
        for (const id of this.grid.get(`${i},${j}`) ?? []) {
          const n = this.run.layout.nodes[id];
          const d = Math.hypot(n.x - x, (n.y - y) * this.aspect);
          if (d <= n.r + slack && d < bestD) {
            best = id;
            bestD = d;
          }
        }
      }
    }
    return best;
  }

  private listen(): void {
    const c = this.canvas;
    c.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        this.zoom(Math.exp(-e.deltaY * 0.002), e.offsetX, e.offsetY);
      },
      { passive: false },
    );
    c.addEventListener('pointerdown', (e) => {
      this.drag = { x: e.clientX, y: e.clientY, tx: this.tx, ty: this.ty, moved: false };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener('pointermove', (e) => {
      if (this.drag) {
        const dx = e.clientX - this.drag.x;
        const dy = e.clientY - this.drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) this.drag.moved = true;
        if (this.drag.moved) {
          this.autoFit = false;
          this.tx = this.drag.tx + dx;
          this.ty = this.drag.ty + dy;
        }
      }
      this.hover = this.nodeAt(e.offsetX, e.offsetY);
      this.hoverPos = { x: e.offsetX, y: e.offsetY };
      this.requestRender();
    });
    c.addEventListener('pointerup', (e) => {
      if (this.drag && !this.drag.moved) this.select(this.nodeAt(e.offsetX, e.offsetY));
      this.drag = null;
    });
    c.addEventListener('pointerleave', () => {
      this.hover = null;
      this.requestRender();
    });
    c.addEventListener('keydown', (e) => {
      const action = this.keyAction(e.key);
      if (action) {
        e.preventDefault();
        action();
      }
    });
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
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(200, this.element.clientWidth || 800);
    if (this.canvas.width !== Math.round(this.width * dpr) || this.canvas.height !== Math.round(HEIGHT * dpr)) {
      this.canvas.width = Math.round(this.width * dpr);
      this.canvas.height = Math.round(HEIGHT * dpr);
      this.canvas.style.width = `${this.width}px`;
      this.canvas.style.height = `${HEIGHT}px`;
    }
    const ctx = this.canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.width, HEIGHT);
    const run = this.run;
    if (!run) {
      this.tooltip.hidden = true;
      this.canvas.setAttribute('aria-label', 'SCC decomposition: no run yet');
      return;
    }
    const p = this.palette;
    const { nodes } = run.layout;
    const { sccs, edges } = run.decomposition;
    const s = this.scale;
    const X = (x: number) => x * s + this.tx;
    const Y = (y: number) => y * s * this.aspect + this.ty;
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
    ctx.font = `11px ${getComputedStyle(document.body).fontFamily}`;
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
    this.canvas.dataset.transform = `${this.scale},${this.scale * this.aspect},${this.tx},${this.ty}`;
    this.canvas.dataset.renderMs = renderMs.toFixed(2);
  }

  private showTooltip(): void {
    if (this.hover === null || !this.run) {
      this.tooltip.hidden = true;
      return;
    }
    const scc = this.run.decomposition.sccs[this.hover];
    this.tooltip.replaceChildren(
      el('div', { class: 'tip-title' }, `SCC ${scc.id}`),
      ...describeScc(scc).map((line) => el('div', {}, line)),
    );
    this.tooltip.hidden = false;
    const w = this.tooltip.offsetWidth;
    const { x, y } = this.hoverPos;
    this.tooltip.style.left = `${x + 14 + w > this.width ? x - 14 - w : x + 14}px`;
    this.tooltip.style.top = `${Math.min(HEIGHT - this.tooltip.offsetHeight, y + 10)}px`;
  }
}
