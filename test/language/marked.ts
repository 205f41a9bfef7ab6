// Test sources with the expected range marked inline: `⟦` and `⟧` delimit it and are
// removed before the text is analyzed.

import type { Range } from '../../extension/language';

export function marked(source: string): { text: string; range: Range } {
  const open = source.indexOf('⟦');
  const close = source.indexOf('⟧');
  if (open < 0 || close < open) throw new Error('mark the expected range with ⟦ ⟧');
  const text = source.slice(0, open) + source.slice(open + 1, close) + source.slice(close + 1);
  return { text, range: { start: positionOf(text, open), end: positionOf(text, close - 1) } };
}

export function positionOf(text: string, offset: number): { line: number; character: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}
