// What is under the pointer, in the charts' own units (pure: the tests run it in
// Node). The timeline asks for the sample nearest a time and the bar in a lane at a
// time; the SCC graph for the disc nearest a point, through a grid of buckets so a
// hover over thousands of components looks at a handful.

/** Index of the first of `length` ascending `times` at or after t (`length` when none). */
export function lowerBound(times: ArrayLike<number>, length: number, t: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the time nearest t among `length` ascending `times` (the earlier on a tie); -1 when empty. */
export function nearestIndex(times: ArrayLike<number>, length: number, t: number): number {
  if (length === 0) return -1;
  const i = lowerBound(times, length, t);
  if (i >= length || (i > 0 && t - times[i - 1] < times[i] - t)) return Math.max(0, i - 1);
  return i;
}

/** The row (0-based) of stacked rows `pitch` apart, the first at `top`, that y falls in; half a `gap` above a row counts as in it. */
export function rowAt(y: number, top: number, pitch: number, gap: number): number {
  return Math.floor((y - top + gap / 2) / pitch);
}

/** The first of `items` in `lane` whose [from, to] covers t, each end widened by `slack`. */
export function spanAt<T extends { lane: number }>(
  items: readonly T[],
  lane: number,
  t: number,
  slack: number,
  extent: (item: T) => readonly [from: number, to: number],
): T | undefined {
  return items.find((item) => {
    if (item.lane !== lane) return false;
    const [from, to] = extent(item);
    return from - slack <= t && to + slack >= t;
  });
}

export interface Disc {
  id: number;
  x: number;
  y: number;
  r: number;
}

/**
 * Discs bucketed by the cell of their centre. A lookup searches the 3 × 3 cells
 * around the point, so it finds every disc whose centre is within one cell: the cell
 * is chosen larger than any radius plus slack.
 */
export class DiscGrid {
  private readonly cells = new Map<string, Disc[]>();

  constructor(
    discs: Iterable<Disc>,
    private readonly cell: number,
  ) {
    for (const d of discs) {
      const key = `${Math.floor(d.x / cell)},${Math.floor(d.y / cell)}`;
      const bucket = this.cells.get(key);
      if (bucket) bucket.push(d);
      else this.cells.set(key, [d]);
    }
  }

  /**
   * The id of the disc nearest (x, y) among those within their radius plus `slack`,
   * or null. Distances count y `aspect` times (the plane is shown stretched).
   */
  nearest(x: number, y: number, slack: number, aspect = 1): number | null {
    let best: number | null = null;
    let bestD = Infinity;
    const cx = Math.floor(x / this.cell);
    const cy = Math.floor(y / this.cell);
    for (let i = cx - 1; i <= cx + 1; i++) {
      for (let j = cy - 1; j <= cy + 1; j++) {
        for (const d of this.cells.get(`${i},${j}`) ?? []) {
          const dist = Math.hypot(d.x - x, (d.y - y) * aspect);
          if (dist <= d.r + slack && dist < bestD) {
            best = d.id;
            bestD = dist;
          }
        }
      }
    }
    return best;
  }
}
