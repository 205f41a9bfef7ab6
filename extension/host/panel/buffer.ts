// The host-side record of everything the Studio panel shows, kept whether or not the
// panel is open, so that a hidden, newly opened or reloaded webview gets all it
// missed in one snapshot after its `ready`. Bounded: hours of memory samples stay
// within `sampleCapacity` by min/max thinning (protocol/thinning.ts); block lifetimes and
// markers drop their oldest entries.
import type { BlockEvent, MemorySnapshot, RunResult } from '../../protocol/engine';
import { totalBytes } from '../../protocol/memory';
import { MAX_PANEL_BLOCKS, MAX_PANEL_MARKERS } from '../../protocol/panelBounds';
import { groupSizeAt, HALVING_GROUP, thinIndices } from '../../protocol/thinning';
import type {
  EngineBadge,
  MarkerKind,
  PanelModel,
  PanelRun,
  StudioSnapshot,
  StudioTab,
  TimelineBlock,
  TimelineMarker,
  TimelineSample,
} from '../../protocol/webview';
import { layoutCondensation } from './layout';

export interface BufferLimits {
  sampleCapacity: number;
  blockCapacity: number;
  markerCapacity: number;
}

export const DEFAULT_LIMITS: BufferLimits = {
  sampleCapacity: 20_000,
  blockCapacity: MAX_PANEL_BLOCKS,
  markerCapacity: MAX_PANEL_MARKERS,
};

export interface MarkerInput {
  kind: MarkerKind;
  /** Engine clock (ms since the engine process started); omitted: now. */
  timeMs?: number;
  label?: string;
  freedBytes?: number;
}

const total = (s: TimelineSample): number => totalBytes(s.accounted);

/** Keeps, of every `size` consecutive samples, the lowest and the highest total (in time order). */
export function decimateMinMax(samples: TimelineSample[], size = HALVING_GROUP): TimelineSample[] {
  return thinIndices(samples.length, (i) => total(samples[i]), size).map((i) => samples[i]);
}

export class StudioBuffer {
  tab: StudioTab = 'memory';
  private engine: EngineBadge | null = null;
  /** Placement of an engine clock on the timeline when the engine's start time is unknown. */
  private fallbackStart: number | null = null;
  private samples: TimelineSample[] = [];
  /** Halvings so far: new samples enter in min/max groups of `groupSizeAt(level)` (protocol/thinning.ts). */
  private level = 0;
  private pending: TimelineSample[] = [];
  private blocks: TimelineBlock[] = [];
  private markers: TimelineMarker[] = [];
  private run: PanelRun | null = null;

  constructor(
    private readonly limits: BufferLimits = DEFAULT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new engine process: blocks of the previous one died with it. */
  setEngine(info: EngineBadge): EngineBadge {
    if (this.engine && this.engine.pid !== info.pid) {
      for (const b of this.blocks) if (b.freed === null) b.freed = info.startedAt;
    }
    this.engine = { version: info.version, pid: info.pid, startedAt: info.startedAt };
    this.fallbackStart = null;
    return this.engine;
  }

  /** Engine clock → timeline clock (epoch ms). */
  private toTimeline(engineMs: number): number {
    if (this.engine) return this.engine.startedAt + engineMs;
    this.fallbackStart ??= this.now() - engineMs;
    return this.fallbackStart + engineMs;
  }

  addSample(s: MemorySnapshot): TimelineSample {
    const sample: TimelineSample = {
      t: this.toTimeline(s.timeMs),
      accounted: { ...s.accountedBytes },
      rss: s.rssBytes,
    };
    if (this.level === 0) this.samples.push(sample);
    else {
      this.pending.push(sample);
      if (this.pending.length >= groupSizeAt(this.level)) {
        this.samples.push(...decimateMinMax(this.pending, this.pending.length));
        this.pending = [];
      }
    }
    if (this.samples.length > this.limits.sampleCapacity) {
      this.samples = decimateMinMax(this.samples);
      this.level++;
    }
    return sample;
  }

  /** Returns the bar the event opened or closed (null for a release nobody saw begin). */
  addBlockEvent(e: BlockEvent): TimelineBlock | null {
    const t = this.toTimeline(e.timeMs);
    if (e.kind === 'created') {
      const bar: TimelineBlock = { scc: e.scc, vertices: e.vertices, bytes: e.bytes, created: t, freed: null };
      this.blocks.push(bar);
      if (this.blocks.length > this.limits.blockCapacity) {
        // Drop the oldest finished bar; a still-alive one is what the strip is for.
        const i = this.blocks.findIndex((b) => b.freed !== null);
        this.blocks.splice(Math.max(i, 0), 1);
      }
      return bar;
    }
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const b = this.blocks[i];
      if (b.scc === e.scc && b.freed === null) {
        b.freed = t;
        return b;
      }
    }
    return null;
  }

  addMarker(m: MarkerInput): TimelineMarker {
    const marker: TimelineMarker = { kind: m.kind, t: m.timeMs === undefined ? this.now() : this.toTimeline(m.timeMs) };
    if (m.label !== undefined) marker.label = m.label;
    if (m.freedBytes !== undefined) marker.freedBytes = m.freedBytes;
    this.markers.push(marker);
    if (this.markers.length > this.limits.markerCapacity) this.markers.shift();
    return marker;
  }

  setRun(model: PanelModel, r: RunResult): PanelRun {
    const { decomposition, ...result } = r;
    this.run = { model, result, decomposition, layout: layoutCondensation(decomposition) };
    return this.run;
  }

  currentRun(): PanelRun | null {
    return this.run;
  }

  snapshot(): StudioSnapshot {
    return {
      tab: this.tab,
      engine: this.engine,
      // The ungrouped newest samples too: a reloaded page shows "now".
      samples: this.pending.length ? [...this.samples, ...this.pending] : this.samples,
      blocks: this.blocks,
      markers: this.markers,
      run: this.run,
    };
  }
}
