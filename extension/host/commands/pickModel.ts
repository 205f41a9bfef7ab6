// The editor's side of modelChoice.ts, for every command that needs a model: what is
// in view (the active editor, the Studio panel's model, the visible editors) and the
// quick pick and open dialog to ask with.
import * as vscode from 'vscode';
import type { HostContext } from '../hostContext';
import { type ModelPrompts, type ModelUse, modelToUse, type VisibleDocument } from './modelChoice';

const inView = (d: vscode.TextDocument): VisibleDocument => ({ uri: d.uri.toString(), languageId: d.languageId });

const prompts: ModelPrompts = {
  pick: async (uris, title) => {
    const items = uris.map((uri) => {
      const parsed = vscode.Uri.parse(uri);
      return { label: parsed.path.split('/').pop() ?? uri, description: parsed.fsPath, uri };
    });
    return (await vscode.window.showQuickPick(items, { title }))?.uri;
  },
  open: async (title) => {
    const picked = await vscode.window.showOpenDialog({
      title,
      canSelectMany: false,
      filters: { 'Phasic models': ['phasic', 'json'] },
    });
    return picked?.[0]?.toString();
  },
};

/** The model the command is for (modelChoice.ts), asking only when the view does not say. */
export async function pickModel(ctx: HostContext, use: ModelUse): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document;
  const uri = await modelToUse(
    {
      active: active && inView(active),
      panelModel: ctx.views.shownModel(),
      visible: vscode.window.visibleTextEditors.map((e) => inView(e.document)),
    },
    prompts,
    use,
  );
  return uri === undefined ? undefined : vscode.Uri.parse(uri);
}
