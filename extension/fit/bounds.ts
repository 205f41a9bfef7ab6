// The bounds a model declares for a parameter (`param mig = 0.1 in 0..0.2`) as the fit
// reads them. The panel refuses a value outside them; the fit, which works on log θ
// over (0, ∞), did not look: a start outside was fitted from, and an estimate outside
// was printed as if the model allowed it. Pure: values and bounds in, words out.

/** A parameter's declared bounds; null where the model gives none. */
export interface ParamBounds {
  name: string;
  lo: number | null;
  hi: number | null;
}

/** `lo..hi` as the model writes it, with an open side shown as such. */
function written(b: ParamBounds): string {
  return b.lo !== null && b.hi !== null ? `in ${b.lo}..${b.hi}` : b.lo !== null ? `≥ ${b.lo}` : `≤ ${b.hi}`;
}

/** Where `value` lies outside `b` (e.g. "above the bound 0.2 (mig in 0..0.2)"), or undefined inside. */
export function outsideBounds(value: number, b: ParamBounds | undefined): string | undefined {
  if (!b) return undefined;
  if (b.lo !== null && value < b.lo) return `below the bound ${b.lo} the model declares (${b.name} ${written(b)})`;
  if (b.hi !== null && value > b.hi) return `above the bound ${b.hi} the model declares (${b.name} ${written(b)})`;
  return undefined;
}
