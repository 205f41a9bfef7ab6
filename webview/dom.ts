// Small DOM helpers. Text goes in through textContent only (never innerHTML), and
// no inline style attributes: the CSP forbids them, CSSOM properties are used instead.

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

export interface TableSpec {
  caption: string;
  headers: string[];
  rows: Array<Array<string | Node>>;
  /** Rows beyond this are summarised in a final note. */
  limit?: number;
}

export function table(spec: TableSpec): HTMLTableElement {
  const t = el('table', { class: 'data' });
  t.append(el('caption', {}, spec.caption));
  const head = el('tr');
  for (const h of spec.headers) head.append(el('th', { scope: 'col' }, h));
  t.append(el('thead', {}, head));
  const body = el('tbody');
  const rows = spec.limit !== undefined ? spec.rows.slice(0, spec.limit) : spec.rows;
  for (const r of rows) {
    const tr = el('tr');
    r.forEach((cell, i) => tr.append(i === 0 ? el('th', { scope: 'row' }, cell) : el('td', {}, cell)));
    body.append(tr);
  }
  t.append(body);
  if (rows.length < spec.rows.length) {
    const note = el(
      'td',
      { colspan: String(spec.headers.length), class: 'note' },
      `… ${spec.rows.length - rows.length} more rows not shown`,
    );
    t.append(el('tfoot', {}, el('tr', {}, note)));
  }
  return t;
}
