// The constant overrides of a run: asked in a quick input prefilled with the model's
// values (or the ones last used for this file), and remembered per file.
import * as vscode from 'vscode';
import { entry } from '../../protocol/check';
import { type Constant, overridesPrefill, parseOverrides } from './overrideText';

const KEY = 'phasic.overrides';

export function rememberedOverrides(context: vscode.ExtensionContext, uri: vscode.Uri): Record<string, number> {
  const all = context.workspaceState.get<Record<string, Record<string, number>>>(KEY, {});
  return entry(all, uri.toString()) ?? {};
}

async function remember(context: vscode.ExtensionContext, uri: vscode.Uri, overrides: Record<string, number>) {
  const all = context.workspaceState.get<Record<string, Record<string, number>>>(KEY, {});
  all[uri.toString()] = overrides;
  await context.workspaceState.update(KEY, all);
}

export async function askOverrides(
  context: vscode.ExtensionContext,
  uri: vscode.Uri,
  constants: Constant[],
): Promise<Record<string, number> | undefined> {
  if (constants.length === 0) return {};
  const prefill = overridesPrefill(constants, rememberedOverrides(context, uri));
  const text = await vscode.window.showInputBox({
    title: 'Phasic: constants for this run',
    prompt: "Override the model's constants (NAME = VALUE, separated by commas)",
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
