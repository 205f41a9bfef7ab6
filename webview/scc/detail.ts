// The detail pane of one SCC: its figures, its states decoded into the model's state
// variables (from the host's `sccDetail` reply) and, for up to 300 vertices, a
// drawing of its own graph.
import type { SccInfo } from '../../extension/protocol/engine';
import type { SccDetail } from '../../extension/protocol/webview';
import { sizeCanvas } from '../chart/canvas';
import { el, table } from '../dom';
import { formatBytes, formatCount, formatMs } from '../../extension/protocol/format';
import type { Palette } from '../theme';
import { button } from '../toolkit';
import { SOURCE_LABELS } from './graph';

const MAX_DRAWN = 300;
const MAX_STATE_ROWS = 100;
const SIZE = 280;

/** Circle start, then a short force relaxation: readable for a few hundred vertices in ~10 ms. */
export function forceLayout(n: number, edges: Array<[number, number, number]>): Array<{ x: number; y: number }> {
  const pos = Array.from({ length: n }, (_, i) => ({
    x: Math.cos((2 * Math.PI * i) / n),
    y: Math.sin((2 * Math.PI * i) / n),
  }));
  if (n <= 2) return pos;
  const k = 2 / Math.sqrt(n);
  const iterations = n > 150 ? 40 : 80;
  for (let it = 0; it < iterations; it++) {
    const cool = 0.1 * (1 - it / iterations);
    const disp = pos.map(() => ({ x: 0, y: 0 }));
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const dx = pos[i].x - pos[j].x;
        const dy = pos[i].y - pos[j].y;
        const d2 = Math.max(1e-4, dx * dx + dy * dy);
        const f = (k * k) / d2;
        disp[i].x += dx * f;
        disp[i].y += dy * f;
        disp[j].x -= dx * f;
        disp[j].y -= dy * f;
      }
    }
    for (const [a, b] of edges) {
      const dx = pos[a].x - pos[b].x;
      const dy = pos[a].y - pos[b].y;
      const d = Math.max(1e-3, Math.hypot(dx, dy));
      const f = d / k;
      disp[a].x -= dx * f * 0.1;
      disp[a].y -= dy * f * 0.1;
      disp[b].x += dx * f * 0.1;
      disp[b].y += dy * f * 0.1;
    }
    for (let i = 0; i < n; i++) {
      const d = Math.max(1e-6, Math.hypot(disp[i].x, disp[i].y));
      const step = Math.min(d, cool);
      pos[i].x += (disp[i].x / d) * step;
      pos[i].y += (disp[i].y / d) * step;
    }
  }
  return pos;
}

export class SccDetailPane {
  readonly element = el('aside', { class: 'scc-detail', 'aria-label': 'Component details', tabindex: '-1' });
  private scc: SccInfo | null = null;
  private detail: SccDetail | null = null;
  private error: string | null = null;

  constructor(
    private palette: Palette,
    private readonly onClose: () => void,
  ) {
    this.element.hidden = true;
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.render();
  }

  show(scc: SccInfo | null): void {
    this.scc = scc;
    this.detail = null;
    this.error = null;
    this.render();
  }

  receive(detail: SccDetail | undefined, error: string | undefined): void {
    if (detail && this.scc && detail.scc !== this.scc.id) return;
    this.detail = detail ?? null;
    this.error = error ?? null;
    this.render();
  }

  private render(): void {
    const s = this.scc;
    this.element.hidden = s === null;
    if (!s) {
      this.element.replaceChildren();
      return;
    }
    const facts: Array<[string, string]> = [
      ['Vertices', formatCount(s.vertices)],
      ['Internal edges', formatCount(s.internalEdges)],
      ['Exit edges', formatCount(s.exitEdges)],
      ['Trace', SOURCE_LABELS[s.source]],
      ['Operations', formatCount(s.operations)],
      ['Trace bytes', formatBytes(s.bytes)],
      ['Record time', s.source === 'recorded' ? formatMs(s.recordMs) : '—'],
      ['Cache key', s.key || '—'],
      ['First vertex', String(s.firstVertex)],
    ];
    const dl = el('dl', { class: 'facts' });
    for (const [k, v] of facts) dl.append(el('dt', {}, k), el('dd', { class: k === 'Cache key' ? 'mono' : '' }, v));
    const close = button('\u00d7', this.onClose, {
      appearance: 'icon',
      ariaLabel: 'Close details',
      title: 'Close (Escape)',
    });
    const parts: Node[] = [
      el('div', { class: 'detail-head' }, el('h3', {}, `SCC ${s.id}${s.absorbing ? ' (absorbing)' : ''}`), close),
      dl,
    ];
    if (this.error) parts.push(el('p', { class: 'muted' }, this.error));
    else if (!this.detail) parts.push(el('p', { class: 'muted' }, 'Loading states…'));
    else parts.push(...this.renderDetail(this.detail));
    this.element.replaceChildren(...parts);
  }

  private renderDetail(d: SccDetail): Node[] {
    const nodes: Node[] = [];
    if (d.states.length <= MAX_DRAWN) nodes.push(this.drawGraph(d));
    else
      nodes.push(
        el('p', { class: 'muted' }, `The graph of ${formatCount(d.states.length)} vertices is too large to draw here.`),
      );
    // Wide state vectors (a 9 × 9 array has 81 cells) are mostly zero within one
    // SCC: show the cells that are non-zero in at least one of its states.
    const used = d.variables.map((_, j) => d.states.some((row) => row[j] !== 0));
    const columns = d.variables.map((name, j) => ({ name, j })).filter((c) => used[c.j]);
    const hidden = d.variables.length - columns.length;
    nodes.push(
      table({
        caption: `States${d.truncated ? ' (first ones only)' : ''}${hidden ? ` (${hidden} cells zero throughout, not shown)` : ''}`,
        headers: ['#', ...columns.map((c) => c.name)],
        rows: d.states.map((row, i) => [String(i), ...columns.map((c) => String(row[c.j]))]),
        limit: MAX_STATE_ROWS,
      }),
    );
    return nodes;
  }

  private drawGraph(d: SccDetail): HTMLCanvasElement {
    const p = this.palette;
    const canvas = el('canvas', { role: 'img', class: 'scc-mini' });
    canvas.setAttribute(
      'aria-label',
      `Graph of SCC ${d.scc}: ${d.states.length} vertices, ${d.edges.length} internal edges (listed in the states table)`,
    );
    const ctx = sizeCanvas(canvas, SIZE, SIZE);
    const pos = forceLayout(d.states.length, d.edges);
    const xs = pos.map((q) => q.x);
    const ys = pos.map((q) => q.y);
    const minX = Math.min(...xs);
    const minY = Math.min(...ys);
    const span = Math.max(1e-6, Math.max(...xs) - minX, Math.max(...ys) - minY);
    const P = (q: { x: number; y: number }) => ({
      x: 12 + ((q.x - minX) / span) * (SIZE - 24),
      y: 12 + ((q.y - minY) / span) * (SIZE - 24),
    });
    ctx.strokeStyle = p.muted;
    ctx.globalAlpha = 0.6;
    ctx.beginPath();
    for (const [a, b] of d.edges) {
      const A = P(pos[a]);
      const B = P(pos[b]);
      ctx.moveTo(A.x, A.y);
      ctx.lineTo(B.x, B.y);
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.fillStyle = p.source[this.scc?.source ?? 'recorded'];
    ctx.beginPath();
    const r = d.states.length > 100 ? 2.5 : 4;
    for (const q of pos) {
      const Q = P(q);
      ctx.moveTo(Q.x + r, Q.y);
      ctx.arc(Q.x, Q.y, r, 0, 2 * Math.PI);
    }
    ctx.fill();
    return canvas;
  }
}
