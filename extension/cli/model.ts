// From a MODEL argument to the text the engine loads, prepared by the front end
// (extension/language/prepare.ts) as the engine process prepares an editor's model:
// a .phasic file is compiled (with --set overrides); a compiled model or a phasic
// graph goes to the engine as it is.
import { basename } from 'node:path';
import { compileModel, type Diagnostic, isModelSource, prepareModel, withoutByteOrderMark } from '../language';
import type { Site } from '../protocol/compiled-model';
import { readInputFile } from '../engine/inputFile';
import { outsideBounds, type ParamBounds } from '../fit/bounds';

/** A failure that points into a file (1-based line and column, when known). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
  }
}

export interface LoadedModel {
  file: string;
  engineText: string;
  /** Source ranges of the compiled model, for placing engine errors; [] for graphs. */
  sites: Site[];
  /** The parameters' declared bounds (`param a = 1 in 0..2`; null where none). */
  bounds: ParamBounds[];
}

function read(file: string): string {
  try {
    return withoutByteOrderMark(readInputFile(file));
  } catch (error) {
    throw new CliError((error as Error).message, file);
  }
}

export function loadModel(file: string, overrides: Record<string, number>): LoadedModel {
  const text = read(file);
  if (!isModelSource(file, text) && Object.keys(overrides).length > 0)
    throw new CliError('--set applies to .phasic models only', file);
  const prepared = prepareModel(text, basename(file), overrides);
  if (!prepared.ok) {
    const { message, at, moreErrors } = prepared.failure;
    throw new CliError(
      message + (moreErrors > 0 ? ` (and ${moreErrors} more errors)` : ''),
      file,
      at && at.line + 1,
      at && at.character + 1,
    );
  }
  const { engineText, sites, outline } = prepared.model;
  return { file, engineText, sites, bounds: outline.params.map(({ name, lo, hi }) => ({ name, lo, hi })) };
}

/**
 * Refuses a `--param` value outside the bounds its model declares, as the panel's
 * fields do: a value the model's author excluded is not run with status 0.
 */
export function checkParamBounds(model: LoadedModel, params: Record<string, number>): void {
  for (const [name, value] of Object.entries(params)) {
    const outside = outsideBounds(
      value,
      model.bounds.find((b) => b.name === name),
    );
    if (outside) throw new CliError(`--param ${name}=${value} is ${outside}`, model.file);
  }
}

/** The diagnostics of a .phasic file, without compiling for the engine. */
export function checkModel(file: string): Diagnostic[] {
  const text = read(file);
  if (!file.endsWith('.phasic')) throw new CliError('check applies to .phasic models', file);
  return compileModel(text, basename(file), {}).diagnostics;
}
