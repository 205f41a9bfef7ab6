// From a document to what the engine runs: the model's text (open editor or disk),
// compiled by the front end for `.phasic` files, passed through for JSON graphs.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { analyze, compileModel, constantsOf, withoutByteOrderMark, type Diagnostic } from '../language';
import { entry } from '../protocol/check';
import type { CompiledModel } from '../protocol/compiled-model';
import type { ModelSpec } from '../protocol/requests';

export interface PreparedModel {
  spec: ModelSpec;
  /** The text the engine loads: compiled-model JSON or a phasic graph JSON. */
  engineText: string;
  /** Source ranges of compiled-model sites, for placing engine errors. */
  sites: CompiledModel['sites'];
}

export class ModelError extends Error {
  constructor(message: string, readonly diagnostics: Diagnostic[] = []) {
    super(message);
  }
}

export async function sourceOf(uri: string, documents: TextDocuments<TextDocument>): Promise<string> {
  const open = documents.get(uri);
  if (open) return open.getText();
  try {
    // As the editor would show it: the sites of engine errors then fall on its columns.
    return withoutByteOrderMark(await readFile(fileURLToPath(uri), 'utf8'));
  } catch (error) {
    throw new ModelError(`cannot read ${uri}: ${(error as Error).message}`);
  }
}

function fileName(uri: string): string {
  return decodeURIComponent(uri.split('/').pop() ?? uri);
}

export function prepareModel(uri: string, text: string, overrides: Record<string, number>): PreparedModel {
  if (uri.endsWith('.json')) return preparePhasicGraph(uri, text);
  const { model, diagnostics } = compileModel(text, fileName(uri), overrides);
  if (!model) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    const first = errors[0];
    const where = first ? `${fileName(uri)}:${first.range.start.line + 1}:${first.range.start.character + 1}: ` : '';
    throw new ModelError(`${where}${first?.message ?? 'the model does not compile'}${errors.length > 1 ? ` (and ${errors.length - 1} more errors)` : ''}`, diagnostics);
  }
  return {
    spec: specOf(uri, model, overrides, text),
    engineText: JSON.stringify(model),
    sites: model.sites,
  };
}

function specOf(uri: string, model: CompiledModel, overrides: Record<string, number>, text: string): ModelSpec {
  const constants = constantsOf(analyze(text, fileName(uri))).map((c) => ({
    ...c,
    value: entry(overrides, c.name) ?? c.value,
  }));
  return {
    uri,
    name: model.name,
    params: model.params.map((p) => ({ name: p.name, default: p.default, lo: p.lo, hi: p.hi })),
    constants,
    rewards: model.rewards.map((r) => r.name),
    stateVariables: model.variables.map((v) => ({ name: v.name, offset: v.offset, dims: v.dims })),
  };
}

/** A phasic `Graph.serialize()` file: parameters p1…pP, no constants. */
function preparePhasicGraph(uri: string, text: string): PreparedModel {
  let graph: { param_length?: unknown; state_length?: unknown };
  try {
    graph = JSON.parse(text);
  } catch (error) {
    throw new ModelError(`${fileName(uri)} is not valid JSON: ${(error as Error).message}`);
  }
  const paramCount = typeof graph.param_length === 'number' ? graph.param_length : 0;
  const stateLength = typeof graph.state_length === 'number' ? graph.state_length : 0;
  return {
    spec: {
      uri,
      name: fileName(uri).replace(/\.json$/, ''),
      params: Array.from({ length: paramCount }, (_, k) => ({ name: `p${k + 1}`, default: 1, lo: null, hi: null })),
      constants: [],
      rewards: ['time', ...Array.from({ length: stateLength }, (_, k) => `s${k}`)],
      stateVariables: [{ name: 's', offset: 0, dims: [stateLength] }],
    },
    engineText: text,
    sites: [],
  };
}
