// The engine's memory invariant, which the engine, reliability and end-to-end tests
// check after every call: the graph, its block subgraphs and evaluation scratch are
// released, and traces plus the cache's bookkeeping are exactly what the memory cache
// reports holding (docs/engine.md, "The invariant").
import type { MemorySnapshot } from '../extension/protocol/engine';
import { totalBytes } from '../extension/protocol/memory';

/** Undefined when only the caches hold memory; otherwise what is left over. */
export function onlyCachesHold(m: MemorySnapshot): string | undefined {
  const a = m.accountedBytes;
  if (a.graph !== 0 || a.subgraphs !== 0 || a.evaluation !== 0) {
    return `graph ${a.graph}, subgraphs ${a.subgraphs}, evaluation ${a.evaluation} bytes left after the call`;
  }
  if (a.traces + a.cache !== m.cache.bytes) {
    return `traces ${a.traces} + cache ${a.cache} != cache holdings ${m.cache.bytes}`;
  }
  return undefined;
}

export function totalAccounted(m: MemorySnapshot): number {
  return totalBytes(m.accountedBytes);
}

/** A byte count in MiB as the soaks print it, e.g. "58.80 MB". */
export const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MB`;
