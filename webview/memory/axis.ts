// The time axis the timeline's chart and Gantt strip share: the visible window of
// time across the same horizontal extent of both canvases.

/** Space around the chart's plot, in CSS pixels; the Gantt strip uses the same left and right. */
export const MARGIN = { left: 64, right: 14, top: 36, bottom: 22 };

export interface TimeAxis {
  /** Visible window, epoch ms. */
  start: number;
  end: number;
  /** The plot's left and right edges, CSS px. */
  left: number;
  right: number;
}

export function timeAxis(start: number, end: number, width: number): TimeAxis {
  return { start, end, left: MARGIN.left, right: width - MARGIN.right };
}

export function xOf(a: TimeAxis, t: number): number {
  return a.left + ((t - a.start) / (a.end - a.start)) * (a.right - a.left);
}

export function timeAt(a: TimeAxis, x: number): number {
  return a.start + ((x - a.left) / (a.right - a.left)) * (a.end - a.start);
}
