// The engine process's settings from whatever the client sent: `initializationOptions`
// and `phasic/configure` come from the extension host, but any LSP client may start
// this server, with no options or with options of another shape. A missing or
// malformed field takes its default (the defaults of the `phasic.*` settings), so the
// server always starts.
import type { EngineSettings } from '../protocol/requests';

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

function atLeast(v: unknown, min: number, integer: boolean): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && (!integer || Number.isInteger(v));
}

export function engineSettingsFrom(value: unknown): EngineSettings {
  const o = (typeof value === 'object' && value !== null ? value : {}) as Partial<
    Record<keyof EngineSettings, unknown>
  >;
  const d = DEFAULT_ENGINE_SETTINGS;
  return {
    maxStates: atLeast(o.maxStates, 1, true) ? o.maxStates : d.maxStates,
    memoryBudgetBytes: atLeast(o.memoryBudgetBytes, 0, false) ? o.memoryBudgetBytes : d.memoryBudgetBytes,
    cacheDirectory: typeof o.cacheDirectory === 'string' ? o.cacheDirectory : d.cacheDirectory,
    maxDiskBytes: atLeast(o.maxDiskBytes, 0, false) ? o.maxDiskBytes : d.maxDiskBytes,
    minSccSize: atLeast(o.minSccSize, 2, true) ? o.minSccSize : d.minSccSize,
  };
}
