// The words of a Clear Caches result, kept apart from the command so that they can be
// checked without VS Code.
import type { ClearResult } from '../../protocol/engine';
import { formatBytes, formatCount } from '../../protocol/format';
import { totalBytes } from '../../protocol/memory';

const plural = (n: number, word: string) => `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;

export function describeClear(r: ClearResult): string {
  const freed = totalBytes(r.freedBytes);
  const whole =
    `Freed ${formatBytes(freed)} of engine memory (${plural(r.traces, 'trace')}, ${plural(r.subgraphs, 'subgraph')}) ` +
    `and ${formatBytes(r.disk.bytes)} on disk (${plural(r.disk.files, 'file')}); ` +
    `engine resident memory ${formatBytes(r.rssBefore)} → ${formatBytes(r.rssAfter)}`;
  return r.disk.error === undefined ? whole : `${whole}. ${describeDiskFailure(r.disk)}`;
}

/** Why the disk cache was cleared only in part: a partial clear never reads as a whole one. */
export function describeDiskFailure(disk: ClearResult['disk']): string {
  const left = disk.failed > 0 ? `${plural(disk.failed, 'file')} could not be removed: ` : '';
  return `The disk cache was not cleared: ${left}${disk.error}`;
}
