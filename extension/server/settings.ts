// The engine process's settings from whatever the client sent: `initializationOptions`
// and `phasic/configure` come from the extension host, but any LSP client may start
// this server, with no options or with options of another shape. A missing or
// malformed field takes its default (the defaults of the `phasic.*` settings), so the
// server always starts. The shape is declared once, in protocol/schema/requests.ts.
import * as v from 'valibot';
import type { EngineSettings } from '../protocol/requests';
import { engineSettingsFields } from '../protocol/schema/requests';

const MB = 1024 * 1024;

/**
 * package.json's defaults, except the cache directory: without a host to choose one,
 * traces are cached in memory only (nothing is written where no one asked).
 */
export const DEFAULT_ENGINE_SETTINGS: Readonly<EngineSettings> = {
  maxStates: 2_000_000,
  memoryBudgetBytes: 4096 * MB,
  cacheDirectory: '',
  maxDiskBytes: 512 * MB,
  minSccSize: 4,
};

/** The settings schema with each field falling back to its default, and a non-object to all defaults. */
const lenient = v.fallback(
  v.object(
    Object.fromEntries(
      Object.entries(engineSettingsFields).map(([key, schema]) => [
        key,
        v.fallback(schema, DEFAULT_ENGINE_SETTINGS[key as keyof EngineSettings]),
      ]),
    ),
  ),
  () => ({ ...DEFAULT_ENGINE_SETTINGS }),
);

export function engineSettingsFrom(value: unknown): EngineSettings {
  return v.parse(lenient, value) as EngineSettings;
}
