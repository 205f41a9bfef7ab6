// The text of the constants input, without `vscode`: its prefilled value and its
// parsing. Overrides are keyed by constant names, which may be `constructor` or
// `__proto__`: they are read by own key only and built without a prototype (a JSON
// round trip through workspaceState keeps such keys as own properties).
import { entry } from '../../protocol/check';
import { readDecimal, underflowMessage, underflowsToZero } from '../../protocol/format';

export type Constant = { name: string; value: number; integer: boolean };

/** The prefilled text of the input: each constant with its remembered value, else the model's. */
export function overridesPrefill(constants: Constant[], remembered: Readonly<Record<string, number>>): string {
  return constants
    .map((c) => {
      const value = entry(remembered, c.name);
      return `${c.name} = ${typeof value === 'number' && Number.isFinite(value) ? value : c.value}`;
    })
    .join(', ');
}

/** Parses "n = 8, d = 3" against the model's constants; returns an error message or the values. */
export function parseOverrides(text: string, constants: Constant[]): Record<string, number> | string {
  const result = Object.create(null) as Record<string, number>;
  const known = new Map(constants.map((c) => [c.name, c]));
  for (const part of text
    .split(/[,;]/)
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S+)$/.exec(part);
    if (!match) return `"${part}" is not of the form NAME = VALUE`;
    const [, name, raw] = match;
    const constant = known.get(name);
    if (!constant) return `the model has no constant "${name}"`;
    const value = readDecimal(raw);
    if (value === undefined || !Number.isFinite(value)) return `"${raw}" is not a number (constant ${name})`;
    if (underflowsToZero(raw)) return `constant ${name}: ${underflowMessage(raw)}`;
    if (constant.integer && !Number.isInteger(value)) return `constant ${name} must stay an integer`;
    result[name] = value;
  }
  return result;
}
