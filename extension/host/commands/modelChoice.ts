// Which model "Phasic: Run Hierarchical Trace" runs, and "Phasic: Fit Parameters to
// Data" fits, when given none, without `vscode`: the model in the active editor; else,
// when the Studio panel has focus (no text editor is active then), the model it
// shows; else the one `.phasic` editor in view. Only when there is none (or several
// to choose from) is the user asked, through the pickers the caller hands in
// (pickModel.ts binds them to the editor's), so both commands choose alike.

/** A text editor in view, by its document's URI and language. */
export interface VisibleDocument {
  uri: string;
  languageId: string;
}

export interface ModelContext {
  /** The active text editor's document, if a text editor is active. */
  active?: VisibleDocument;
  /** The URI of the model whose run the Studio panel shows, when the panel is visible. */
  panelModel?: string;
  /** Every text editor in view (the active one included). */
  visible: VisibleDocument[];
}

export type ModelChoice =
  | { kind: 'run'; uri: string }
  | { kind: 'pick'; uris: string[] } // several models in view: the user picks one
  | { kind: 'ask' }; // none: the user opens a file

function path(uri: string): string {
  return uri.replace(/[?#].*$/, '');
}

/** A model file the engine runs: a .phasic model, or a compiled-model / phasic graph .json. */
export function isModelUri(uri: string): boolean {
  const p = path(uri);
  return p.endsWith('.phasic') || p.endsWith('.json');
}

/** A phasic model in view (a .json editor in view is more often settings than a graph). */
function isPhasic(d: VisibleDocument): boolean {
  return d.languageId === 'phasic' || path(d.uri).endsWith('.phasic');
}

export function chooseModel(c: ModelContext): ModelChoice {
  if (c.active && (isModelUri(c.active.uri) || isPhasic(c.active))) return { kind: 'run', uri: c.active.uri };
  if (c.panelModel) return { kind: 'run', uri: c.panelModel };
  const uris = [...new Set(c.visible.filter(isPhasic).map((d) => d.uri))];
  if (uris.length === 1) return { kind: 'run', uri: uris[0] };
  return uris.length > 1 ? { kind: 'pick', uris } : { kind: 'ask' };
}

/** The editor's pickers, for when the context names no single model. */
export interface ModelPrompts {
  /** A quick pick among these model URIs; the one picked, or undefined. */
  pick(uris: string[], title: string): Promise<string | undefined>;
  /** An open dialog for a model file (.phasic or .json); its URI, or undefined. */
  open(title: string): Promise<string | undefined>;
}

/** What the command will do with the model: the pickers' titles say it. */
export type ModelUse = 'run' | 'fit';

const PICK_TITLES: Record<ModelUse, string> = { run: 'Phasic: run which model?', fit: 'Phasic: fit which model?' };
const OPEN_TITLES: Record<ModelUse, string> = { run: 'Phasic: pick a model', fit: 'Phasic: pick the model to fit' };

/** The model to use: the one in view (chooseModel), else the user's pick; undefined when they cancel. */
export async function modelToUse(c: ModelContext, prompts: ModelPrompts, use: ModelUse): Promise<string | undefined> {
  const choice = chooseModel(c);
  if (choice.kind === 'run') return choice.uri;
  if (choice.kind === 'pick') return prompts.pick(choice.uris, PICK_TITLES[use]);
  return prompts.open(OPEN_TITLES[use]);
}
