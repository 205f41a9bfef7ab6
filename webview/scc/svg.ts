// The SCC drawing as a standalone SVG document: same layout, the current theme's
// colours resolved to values (the file is read outside VS Code), one <title> per
// node so viewers show the same facts as the hover.
import type { TraceSource } from '../../extension/protocol/engine';
import type { PanelRun } from '../../extension/protocol/webview';
import type { Palette } from '../theme';
import { describeScc } from './graph';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r2 = (x: number) => Math.round(x * 100) / 100;

export function sccSvg(run: PanelRun, p: Palette): string {
  const { nodes, width, height } = run.layout;
  const { sccs, edges } = run.decomposition;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${r2(width)}" height="${r2(height)}" viewBox="0 0 ${r2(width)} ${r2(height)}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(`SCC decomposition of ${run.model.name}: ${sccs.length} components, ${edges.length} edges`)}</title>`,
    `<rect width="100%" height="100%" fill="${esc(p.background)}"/>`,
    `<g fill="none" stroke="${esc(p.muted)}" stroke-opacity="0.45">`,
  );
  for (const [a, b] of edges) {
    const na = nodes[a];
    const nb = nodes[b];
    const xm = r2((na.x + nb.x) / 2);
    out.push(`<path d="M${r2(na.x)} ${r2(na.y)}C${xm} ${r2(na.y)} ${xm} ${r2(nb.y)} ${r2(nb.x)} ${r2(nb.y)}"/>`);
  }
  out.push('</g>');
  const bySource = new Map<TraceSource, string[]>();
  for (const n of nodes) {
    const s = sccs[n.id];
    const title = [`SCC ${s.id}`, ...describeScc(s)].join('\n');
    const list = bySource.get(s.source) ?? [];
    list.push(`<circle cx="${r2(n.x)}" cy="${r2(n.y)}" r="${r2(n.r)}"><title>${esc(title)}</title></circle>`);
    bySource.set(s.source, list);
  }
  for (const [source, circles] of bySource) {
    out.push(
      `<g class="${source}" fill="${esc(p.source[source])}"${p.highContrast ? ` stroke="${esc(p.border)}"` : ''}>`,
      ...circles,
      '</g>',
    );
  }
  out.push(`<g fill="${esc(p.background)}" text-anchor="middle" dominant-baseline="central">`);
  for (const n of nodes) if (n.r >= 11) out.push(`<text x="${r2(n.x)}" y="${r2(n.y)}">${sccs[n.id].vertices}</text>`);
  out.push('</g></svg>');
  return out.join('\n');
}
