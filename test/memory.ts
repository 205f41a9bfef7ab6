// The engine's memory invariant, which the engine, reliability and end-to-end tests
// check after every call: block subgraphs and evaluation scratch are released, and the
// parametric graphs, traces and the cache's bookkeeping are exactly what the memory
// cache reports holding (docs/engine.md, "The invariant"): a run's explored graph is
// gone, and graph bytes are only those of the parametric graphs cached beside traces.
// Kept workspace (large scratch mapped between calls) is the one other owner, on the
// ledger under its own name and bounded.
import type { MemorySnapshot } from '../extension/protocol/engine';
import { totalBytes } from '../extension/protocol/memory';

/** Undefined when only the caches hold memory; otherwise what is left over. */
export function onlyCachesHold(m: MemorySnapshot): string | undefined {
  const a = m.accountedBytes;
  if (a.subgraphs !== 0 || a.evaluation !== 0) {
    return `subgraphs ${a.subgraphs}, evaluation ${a.evaluation} bytes left after the call`;
  }
  // RetainedRegion::kMaxRetainedBytes + kMaxKeptBlockBytes (native/src/memory/accounting.hpp).
  if (a.workspace > 2 ** 30 + 2 ** 28) return `workspace ${a.workspace} bytes, above its bound of 1.25 GiB`;
  if (a.graph + a.traces + a.cache !== m.cache.bytes) {
    return `graph ${a.graph} + traces ${a.traces} + cache ${a.cache} != cache holdings ${m.cache.bytes}`;
  }
  return undefined;
}

export function totalAccounted(m: MemorySnapshot): number {
  return totalBytes(m.accountedBytes);
}

/** A byte count in MiB as the soaks print it, e.g. "58.80 MB". */
export const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MB`;
