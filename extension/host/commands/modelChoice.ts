// Which model "Phasic: Run Hierarchical Trace" runs when it is given none, without
// `vscode`: the model in the active editor; else, when the Studio panel has focus
// (no text editor is active then), the model it shows; else the one `.phasic` editor
// in view. Only when there is none (or several to choose from) is the user asked.

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
