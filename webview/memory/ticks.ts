// Tick positions for the timeline: bytes in binary steps (1, 2, 5 × 2^10k),
// time in clock-friendly steps (ms, s, min, h).

const BYTE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500];
const TIME_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 216e5,
  432e5, 864e5,
];

/** A "nice" upper bound for the y axis and the step between its ticks. */
export function byteTicks(max: number, count = 4): { top: number; step: number } {
  if (!(max > 0)) return { top: 1024 * 1024, step: 256 * 1024 };
  for (let unit = 1; unit < 2 ** 50; unit *= 1024) {
    for (const s of BYTE_STEPS) {
      const step = s * unit;
      if (step * count >= max) return { top: Math.ceil(max / step) * step, step };
    }
  }
  return { top: max, step: max / count };
}

/** Ticks at round times within [start, end], about `px / 90` of them. */
export function timeTicks(start: number, end: number, px: number): { ticks: number[]; step: number } {
  const span = Math.max(1, end - start);
  const want = Math.max(2, Math.floor(px / 90));
  const step = TIME_STEPS.find((s) => span / s <= want) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const ticks: number[] = [];
  // Align to the local clock so ticks fall on whole seconds and minutes.
  const offset = new Date(start).getTimezoneOffset() * 60_000;
  for (let t = Math.ceil((start - offset) / step) * step + offset; t <= end; t += step) ticks.push(t);
  return { ticks, step };
}
