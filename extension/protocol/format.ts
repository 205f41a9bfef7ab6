// Numbers as the user reads them, in one place for every runtime that prints them:
// the host's notifications and status bar, the panel, the code lens and the CLI's
// human output. So the same value reads the same everywhere; and numbers as the user
// types them, read one way everywhere. Browser-safe (the webview imports it): no Node,
// no vscode.

/**
 * A number the user typed: a decimal as the model language writes one, with an optional
 * sign and exponent ("0.3", "-2", ".5", "1e-4"); surrounding blanks are ignored.
 * Undefined for anything else. `Number` alone would also take "0x10" as 16, "0b1" as 1
 * and "Infinity", which nobody types as a rate, and read them as if they were meant.
 * The pattern has one way to match each text: `\d+\.?\d*` split a run of digits
 * between its two `\d`s in every way before failing, so 10⁵ digits and a letter took
 * 20 s to refuse and a megabyte-long `.fs` count hung the engine process.
 */
export function readDecimal(text: string): number | undefined {
  const t = text.trim();
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(t) ? Number(t) : undefined;
}

/**
 * True for a decimal that is not 0 as written but reads as 0: below half the least
 * double (about 2.5e-324), `1e-400` rounds to 0, and a rate typed as 1e-400 became a
 * rate of 0 (a process that never leaves its state) with nothing said. `readDecimal`'s
 * callers refuse it, as they refuse 1e400 (which reads as Infinity).
 */
export function underflowsToZero(text: string): boolean {
  return readDecimal(text) === 0 && /[1-9]/.test(text.trim().split(/[eE]/)[0]);
}

/** Why `text`, which reads as 0, cannot be taken as typed: for messages after `underflowsToZero`. */
export function underflowMessage(text: string): string {
  return `'${text.trim()}' is too small for a double (the least is 4.9e-324): it would read as 0; write 0 if 0 is meant`;
}

/**
 * A quantile to the figures its interval [low, high] fixes (the CDF is known to within
 * epsilon, so near 0 and 1, where the density is small, a quantile may be known to
 * a few figures only): as `formatNumber` when the interval is within 1e-8 of the value
 * (the tenth figure may then be off by a unit or two: the bisection stops at 1e-9),
 * else rounded to its half-width, which follows ("17.6 ± 0.3"). Ten figures of such a
 * quantile were printed, most of them wrong.
 */
export function formatQuantile(q: { value: number; low: number; high: number }): string {
  const half = Math.max(q.high - q.value, q.value - q.low);
  if (!(half > 1e-8 * q.value)) return formatNumber(q.value);
  // One figure, rounded up: 0.27 → 0.3, 0.23 → 0.3.
  let bound = Number(half.toPrecision(1));
  if (bound < half) bound = Number((bound + 10 ** Math.floor(Math.log10(half))).toPrecision(1));
  const step = 10 ** Math.floor(Math.log10(bound));
  const figures = Math.floor(Math.log10(Math.max(q.value, step))) - Math.log10(step) + 1;
  return `${Number((Math.round(q.value / step) * step).toPrecision(Math.max(1, Math.round(figures))))} ± ${formatShortNumber(bound)}`;
}

/** Bytes in binary units: "812 B", "5.0 MB", "412 MB" (three figures from 100 up). */
export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(Math.abs(value) >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** "−412 MB": what Clear Caches returned, with a real minus sign. */
export function formatFreed(bytes: number): string {
  return `\u2212${formatBytes(bytes)}`;
}

/** "12,345": counts with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * A moment or parameter value to ten figures, for tables and notifications: plain
 * from 1e-4 to 1e7, else in exponent form with all ten figures, so that a column of
 * large or small values lines up ("1.500000000e+200").
 */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  return Math.abs(x) >= 1e-4 && Math.abs(x) < 1e7 ? Number(x.toPrecision(10)).toString() : x.toExponential(9);
}

/**
 * A value in six figures for a one-line summary (the code lens): integers whole,
 * trailing zeros dropped, from the mantissa only ("1.5e+200", not "1.5e+2"). Short,
 * yet exact enough to compare with a hand calculation.
 */
export function formatShortNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isSafeInteger(x)) return String(x);
  const [mantissa, exponent] = x.toPrecision(6).split('e');
  const trimmed = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
  return exponent === undefined ? trimmed : `${trimmed}e${exponent}`;
}

/** A measured duration: "0.412 ms", "3.25 ms", "41.2 ms", "1.20 s". */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Wall-clock time of day, with milliseconds when `fine`. */
export function formatClock(t: number, fine = false): string {
  const d = new Date(t);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const s = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return fine ? `${s}.${p(d.getMilliseconds(), 3)}` : s;
}

/** A span of time: "412 ms", "3.2 s", "4 min 12 s", "2 h 5 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
