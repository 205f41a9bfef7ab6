// Phasic: Fit Parameters to Data — a `.fs` file of the workspace and a model (the one
// "Run Hierarchical Trace" would run, modelChoice.ts): the model is run (so the panel
// knows its parameters and rewards), the engine reads the file (so a bad file is
// reported now, with its line), and the Studio panel opens on the Fit tab.
import * as vscode from 'vscode';
import { MAX_SFS_TEXT_CHARS } from '../../protocol/schema/requests';
import { EngineStoppedError } from '../engineClient';
import type { HostContext } from '../hostContext';
import { reportEngineStopped } from './engineStopped';
import { runTrace } from './runTrace';
import { askOverrides } from './overrides';
import { pickModel } from './pickModel';

/** At most this many `.fs` files are offered (a workspace of simulations may hold thousands). */
const MAX_DATA_FILES = 500;

async function pickData(): Promise<vscode.Uri | undefined> {
  const files = await vscode.workspace.findFiles('**/*.fs', '**/node_modules/**', MAX_DATA_FILES);
  if (files.length === 0) {
    const picked = await vscode.window.showOpenDialog({
      title: 'Phasic: pick a site frequency spectrum (.fs)',
      canSelectMany: false,
      filters: { 'Site frequency spectra': ['fs'] },
    });
    return picked?.[0];
  }
  const items = files
    .map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri }))
    .sort((a, b) => a.label.localeCompare(b.label));
  const picked = await vscode.window.showQuickPick(items, { title: 'Phasic: fit to which spectrum (.fs)?' });
  return picked?.uri;
}

/** The argument of `phasic.fitData` from a script or test: no pickers. */
interface FitDataRequest {
  data: vscode.Uri | string;
  model: vscode.Uri | string;
  overrides?: Record<string, number>;
}

function isFitDataRequest(arg: unknown): arg is FitDataRequest {
  if (typeof arg !== 'object' || arg === null) return false;
  const { data, model } = arg as Record<string, unknown>;
  const isUri = (u: unknown) => u instanceof vscode.Uri || typeof u === 'string';
  return isUri(data) && isUri(model);
}

const asUri = (u: vscode.Uri | string) => (typeof u === 'string' ? vscode.Uri.parse(u) : u);

export async function fitData(ctx: HostContext, arg?: unknown): Promise<boolean> {
  const request = isFitDataRequest(arg) ? arg : undefined;
  const dataUri = request ? asUri(request.data) : await pickData();
  if (!dataUri) return false;
  const modelUri = request ? asUri(request.model) : await pickModel(ctx, 'fit');
  if (!modelUri) return false;
  const name = dataUri.path.split('/').pop() ?? dataUri.toString();
  try {
    // A FIFO would block the read for ever and a huge file would be read whole only
    // for the engine to refuse it.
    const stat = await vscode.workspace.fs.stat(dataUri);
    if ((stat.type & vscode.FileType.File) === 0) throw new Error('it is not a regular file');
    if (stat.size > MAX_SFS_TEXT_CHARS)
      throw new Error(`it has ${stat.size} bytes; a spectrum file has at most ${MAX_SFS_TEXT_CHARS}`);
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(dataUri));
    const spectrum = await ctx.engine.request('phasic/spectrum', { data: text });
    let overrides = request?.overrides;
    if (!overrides) {
      const { constants } = await ctx.engine.request('phasic/describe', { uri: modelUri.toString(), overrides: {} });
      overrides = await askOverrides(ctx.extension, modelUri, constants);
      if (!overrides) return false;
    }
    const run = await runTrace(ctx, { uri: modelUri, overrides });
    if (!run) return false;
    ctx.views.showFit({
      data: {
        name,
        path: vscode.workspace.asRelativePath(dataUri),
        modelUri: modelUri.toString(),
        traceKey: run.traceKey,
        spectrum,
      },
      text,
      overrides,
    });
    return true;
  } catch (error) {
    if (error instanceof EngineStoppedError) {
      await reportEngineStopped(ctx, error);
      return false;
    }
    const message = error instanceof Error ? error.message : String(error);
    ctx.output.appendLine(`[fit] ${dataUri.fsPath}: ${message}`);
    void vscode.window.showErrorMessage(`Phasic: ${name}: ${message}`);
    return false;
  }
}
