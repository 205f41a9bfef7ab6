// The constant overrides of a run: asked in a quick input prefilled with the model's
// values (or the ones last used for this file), and remembered per file.
import * as vscode from 'vscode';

type Constant = { name: string; value: number; integer: boolean };

const KEY = 'phasic.overrides';

export function rememberedOverrides(context: vscode.ExtensionContext, uri: vscode.Uri): Record<string, number> {
  const all = context.workspaceState.get<Record<string, Record<string, number>>>(KEY, {});
  return all[uri.toString()] ?? {};
}

async function remember(context: vscode.ExtensionContext, uri: vscode.Uri, overrides: Record<string, number>) {
  const all = context.workspaceState.get<Record<string, Record<string, number>>>(KEY, {});
  all[uri.toString()] = overrides;
  await context.workspaceState.update(KEY, all);
}

/** Parses "n = 8, d = 3" against the model's constants; returns an error message or the values. */
export function parseOverrides(text: string, constants: Constant[]): Record<string, number> | string {
  const result: Record<string, number> = {};
  const known = new Map(constants.map((c) => [c.name, c]));
  for (const part of text.split(/[,;]/).map((p) => p.trim()).filter(Boolean)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S+)$/.exec(part);
    if (!match) return `"${part}" is not of the form NAME = VALUE`;
    const [, name, raw] = match;
    const constant = known.get(name);
    if (!constant) return `the model has no constant "${name}"`;
    const value = Number(raw);
    if (!Number.isFinite(value)) return `"${raw}" is not a number (constant ${name})`;
    if (constant.integer && !Number.isInteger(value)) return `constant ${name} must stay an integer`;
    result[name] = value;
  }
  return result;
}

export async function askOverrides(
  context: vscode.ExtensionContext,
  uri: vscode.Uri,
  constants: Constant[],
): Promise<Record<string, number> | undefined> {
  if (constants.length === 0) return {};
  const remembered = rememberedOverrides(context, uri);
  const prefill = constants.map((c) => `${c.name} = ${remembered[c.name] ?? c.value}`).join(', ');
  const text = await vscode.window.showInputBox({
    title: 'Phasic: constants for this run',
    prompt: 'Override the model\'s constants (NAME = VALUE, separated by commas)',
    value: prefill,
    validateInput: (value) => {
      const parsed = parseOverrides(value, constants);
      return typeof parsed === 'string' ? parsed : undefined;
    },
  });
  if (text === undefined) return undefined;
  const parsed = parseOverrides(text, constants);
  if (typeof parsed === 'string') return undefined;
  await remember(context, uri, parsed);
  return parsed;
}
