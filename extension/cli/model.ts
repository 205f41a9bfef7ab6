// From a MODEL argument to the text the engine loads: a .phasic file is compiled by
// the front end (with --set overrides); a .json file is a compiled model or a phasic
// graph and goes to the engine as it is.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { compileModel, withoutByteOrderMark, type Diagnostic } from '../language';
import type { Site } from '../protocol/compiled-model';

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
}

function read(file: string): string {
  try {
    return withoutByteOrderMark(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, file);
  }
}

export function loadModel(file: string, overrides: Record<string, number>): LoadedModel {
  const text = read(file);
  if (file.endsWith('.phasic')) {
    const { model, diagnostics } = compileModel(text, basename(file), overrides);
    if (!model) {
      const first = diagnostics.find((d) => d.severity === 'error');
      const more = diagnostics.filter((d) => d.severity === 'error').length - 1;
      throw new CliError(
        (first?.message ?? 'the model does not compile') + (more > 0 ? ` (and ${more} more errors)` : ''),
        file,
        first ? first.range.start.line + 1 : undefined,
        first ? first.range.start.character + 1 : undefined,
      );
    }
    return { file, engineText: JSON.stringify(model), sites: model.sites };
  }
  if (Object.keys(overrides).length > 0) throw new CliError('--set applies to .phasic models only', file);
  let sites: Site[] = [];
  try {
    const parsed = JSON.parse(text) as { format?: unknown; sites?: unknown };
    if (parsed && parsed.format === 'phasic-compiled-model' && Array.isArray(parsed.sites)) sites = parsed.sites as Site[];
  } catch {
    // The engine reports malformed JSON with its position.
  }
  return { file, engineText: text, sites };
}

/** The diagnostics of a .phasic file, without compiling for the engine. */
export function checkModel(file: string): Diagnostic[] {
  const text = read(file);
  if (!file.endsWith('.phasic')) throw new CliError('check applies to .phasic models', file);
  return compileModel(text, basename(file), {}).diagnostics;
}
