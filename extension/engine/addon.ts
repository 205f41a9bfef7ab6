// Loads the native engine addon by path at run time. The addon is a binary built by
// node-gyp next to the sources (native/build/Release/phasic_engine.node); bundlers must
// not touch it, so it is loaded through a `require` made by createRequire, which
// esbuild leaves alone. PHASIC_ENGINE_ADDON overrides the search.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { DistributionParams } from '../protocol/requests';

/** The engine's settings, as configure() takes them. */
export interface NativeConfig {
  /** Directory of the disk cache; '' disables it. */
  cacheDir?: string;
  maxDiskBytes?: number;
  memoryCacheBytes?: number;
  /** The run stops with a 'budget' failure above this many accounted bytes (≥ 1: there is no "none"). */
  memoryBudgetBytes?: number;
}

/** What a run is asked, as run() takes it. */
export interface NativeRunOptions {
  /** Exploration stops with a 'model' failure above this many states (≥ 1: there is no "none"). */
  maxStates?: number;
  minSccSize?: number;
  /** Raw moments per reward (1..16); variances are always reported. */
  moments?: number;
  /** Reward name pairs whose covariance is wanted. */
  covariances?: Array<[string, string]>;
  /** Parameter values by name; unnamed parameters take the model's defaults. */
  params?: Record<string, number>;
  /**
   * Also report d moments/dθ, d variance/dθ and d covariance/dθ (`gradient`,
   * `gradientVariance`, `gradientCovariance`).
   */
  gradient?: boolean;
  /** false: the result without `decomposition` (default true). */
  decomposition?: boolean;
}

/** The raw binding (native/binding/addon.cpp): JSON text in and out. */
export interface NativeAddon {
  version(): string;
  configure(config: NativeConfig): void;
  memory(): string;
  run(
    runId: number,
    modelText: string,
    options: NativeRunOptions,
    onProgress?: (p: { phase: string; done: number; total: number }) => void,
    onBlockEvent?: (e: { kind: string; scc: number; vertices: number; bytes: number; timeMs: number }) => void,
  ): Promise<string>;
  cancel(runId: number): boolean;
  evaluate(
    traceKey: string,
    params: Array<Record<string, number>>,
    moments: number,
    covariances: Array<[string, string]>,
    gradient?: boolean,
  ): Promise<string>;
  sccDetail(traceKey: string, scc: number, params: Record<string, number>, maxStates: number): Promise<string>;
  distribution(
    runId: number,
    traceKey: string,
    request: Omit<DistributionParams, 'traceKey'>,
    onProgress?: (p: { phase: string; done: number; total: number }) => void,
  ): Promise<string>;
  clearCaches(): Promise<string>;
  exportPhasicJson(modelText: string, maxStates?: number): Promise<string>;
}

const RELATIVE = join('native', 'build', 'Release', 'phasic_engine.node');

/** Where the addon is: $PHASIC_ENGINE_ADDON, or native/build/Release upward from `from`. */
export function findAddon(from: string = __dirname): string {
  const override = process.env.PHASIC_ENGINE_ADDON;
  if (override) {
    if (!existsSync(override)) throw new Error(`PHASIC_ENGINE_ADDON names ${override}, which does not exist`);
    return resolve(override);
  }
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, RELATIVE);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(
    `the engine addon (${RELATIVE}) was not found above ${from}; build it with \`cd native && npx node-gyp rebuild\` or set PHASIC_ENGINE_ADDON`,
  );
}

let loaded: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (!loaded) {
    const path = findAddon();
    loaded = createRequire(path)(path) as NativeAddon;
  }
  return loaded;
}
