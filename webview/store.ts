// The page's copy of what the host sent. Samples are kept column-wise in typed
// arrays (100,000 samples are 5.6 MB and scan in about a millisecond) and bounded
// by the same min/max thinning as the host's buffer (extension/protocol/thinning.ts),
// of the accounted total, so the resolution stays uniform and peaks survive any
// length of session.
import { entry } from '../extension/protocol/check';
import { MEMORY_CATEGORIES, type MemoryCategory, totalBytes } from '../extension/protocol/memory';
import { type MomentsBlock, runMomentWarning } from '../extension/protocol/moment';
import { MAX_PANEL_BLOCKS, MAX_PANEL_MARKERS } from '../extension/protocol/panelBounds';
import { groupSizeAt, keepMinMax, thinIndices } from '../extension/protocol/thinning';
import type {
  EngineBadge,
  PanelRun,
  StudioSnapshot,
  TimelineBlock,
  TimelineMarker,
  TimelineSample,
} from '../extension/protocol/webview';
import { lowerBound } from './chart/hitTest';

const sum = (s: TimelineSample) => totalBytes(s.accounted);

export class SampleColumns {
  length = 0;
  t: Float64Array;
  rss: Float64Array;
  cat: Record<MemoryCategory, Float64Array>;
  private level = 0;
  /** Newest samples not yet reduced to their group's min and max. */
  private pending: TimelineSample[] = [];

  constructor(private readonly capacity = 200_000) {
    this.t = new Float64Array(1024);
    this.rss = new Float64Array(1024);
    this.cat = Object.fromEntries(MEMORY_CATEGORIES.map((c) => [c, new Float64Array(1024)])) as Record<
      MemoryCategory,
      Float64Array
    >;
  }

  clear(): void {
    this.length = 0;
    this.level = 0;
    this.pending = [];
  }

  total(i: number): number {
    let s = 0;
    for (const c of MEMORY_CATEGORIES) s += this.cat[c][i];
    return s;
  }

  /** Index of the first stored sample at or after t. */
  lowerBound(t: number): number {
    return lowerBound(this.t, this.length, t);
  }

  /** The newest sample received (stored or still pending), for the current figures. */
  latest(): TimelineSample | null {
    if (this.pending.length) return this.pending[this.pending.length - 1];
    return this.length ? this.sample(this.length - 1) : null;
  }

  push(s: TimelineSample): void {
    // Out-of-order samples (a late batch) would break the binary search; drop them.
    const last = this.latest();
    if (last && s.t < last.t) return;
    if (this.level === 0) return this.store(s);
    this.pending.push(s);
    if (this.pending.length < groupSizeAt(this.level)) return;
    const group = this.pending;
    this.pending = [];
    const keep: number[] = [];
    keepMinMax(0, group.length, (i) => sum(group[i]), keep);
    for (const i of keep) this.store(group[i]);
  }

  sample(i: number): TimelineSample {
    const accounted = Object.fromEntries(
      MEMORY_CATEGORIES.map((c) => [c, this.cat[c][i]]),
    ) as TimelineSample['accounted'];
    return { t: this.t[i], accounted, rss: this.rss[i] };
  }

  private store(s: TimelineSample): void {
    if (this.length === this.t.length) this.grow();
    const i = this.length++;
    this.t[i] = s.t;
    this.rss[i] = s.rss;
    for (const c of MEMORY_CATEGORIES) this.cat[c][i] = s.accounted[c];
  }

  private grow(): void {
    if (this.t.length >= this.capacity) {
      this.thin();
      return;
    }
    const size = Math.min(this.capacity, this.t.length * 2);
    const widen = (a: Float64Array) => {
      const b = new Float64Array(size);
      b.set(a.subarray(0, this.length));
      return b;
    };
    this.t = widen(this.t);
    this.rss = widen(this.rss);
    for (const c of MEMORY_CATEGORIES) this.cat[c] = widen(this.cat[c]);
  }

  /** Halves the stored samples by min/max of the accounted total; later ones group twice as wide. */
  private thin(): void {
    const keep = thinIndices(this.length, (i) => this.total(i));
    const move = (a: Float64Array) => keep.forEach((from, to) => (a[to] = a[from]));
    move(this.t);
    move(this.rss);
    for (const c of MEMORY_CATEGORIES) move(this.cat[c]);
    this.length = keep.length;
    this.level++;
  }
}

export type Change = 'engine' | 'samples' | 'blocks' | 'markers' | 'run' | 'params' | 'moments' | 'all';

/** The newest moments the engine gave for the current run, and the parameters they are at. */
export interface MomentsAt extends MomentsBlock {
  params: Record<string, number>;
  /** The engine's warning naming those of its variances and covariances that cancelled (decision 112). */
  impreciseMoments?: string | undefined;
}

export class StudioStore {
  engine: EngineBadge | null = null;
  readonly samples = new SampleColumns();
  blocks: TimelineBlock[] = [];
  markers: TimelineMarker[] = [];
  run: PanelRun | null = null;
  /**
   * The parameter values as typed, one state for every view with parameter fields
   * (Moments, Distribution): editing one view's field changes the other's.
   */
  paramText: Record<string, string> = Object.create(null);
  moments: MomentsAt | null = null;
  private listeners: Array<(c: Change) => void> = [];

  subscribe(f: (c: Change) => void): void {
    this.listeners.push(f);
  }

  private emit(c: Change): void {
    for (const f of this.listeners) f(c);
  }

  load(s: StudioSnapshot): void {
    this.engine = s.engine;
    this.samples.clear();
    for (const x of s.samples) this.samples.push(x);
    this.blocks = s.blocks.slice();
    this.markers = s.markers.slice();
    this.run = s.run;
    this.resetParams();
    this.emit('all');
  }

  setEngine(e: EngineBadge): void {
    this.engine = e;
    this.emit('engine');
  }

  addSamples(samples: TimelineSample[]): void {
    for (const x of samples) this.samples.push(x);
    this.emit('samples');
  }

  /** A bar is identified by its SCC and creation time: a `freed` update replaces it. */
  upsertBlock(b: TimelineBlock): void {
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const old = this.blocks[i];
      if (old.scc === b.scc && old.created === b.created) {
        this.blocks[i] = b;
        this.emit('blocks');
        return;
      }
    }
    this.blocks.push(b);
    if (this.blocks.length > MAX_PANEL_BLOCKS) this.blocks.shift();
    this.emit('blocks');
  }

  addMarker(m: TimelineMarker): void {
    this.markers.push(m);
    if (this.markers.length > MAX_PANEL_MARKERS) this.markers.shift();
    this.emit('markers');
  }

  setRun(r: PanelRun): void {
    this.run = r;
    this.resetParams();
    this.emit('run');
  }

  /** One parameter field edited, in any view. */
  setParam(name: string, text: string): void {
    if (this.paramText[name] === text) return;
    this.paramText[name] = text;
    this.emit('params');
  }

  /** Every field back to the model's defaults. */
  resetParamsToDefaults(): void {
    for (const p of this.run?.model.params ?? []) this.paramText[p.name] = String(p.default);
    this.emit('params');
  }

  setMoments(m: MomentsAt): void {
    this.moments = m;
    this.emit('moments');
  }

  /** The run's own parameter values (the model's defaults unless the run overrode them) and moments. */
  private resetParams(): void {
    this.paramText = Object.create(null);
    this.moments = null;
    const run = this.run;
    if (!run) return;
    for (const p of run.model.params) this.paramText[p.name] = String(entry(run.result.params, p.name) ?? p.default);
    this.moments = { ...run.result, impreciseMoments: runMomentWarning(run.result.warnings) };
  }

  /** The newest time anything happened: "now" for live data. */
  latest(): number {
    let t = this.samples.latest()?.t ?? 0;
    for (const b of this.blocks) t = Math.max(t, b.freed ?? b.created);
    for (const m of this.markers) t = Math.max(t, m.t);
    return t;
  }

  earliest(): number {
    let t = this.samples.length ? this.samples.t[0] : Infinity;
    if (this.blocks.length) t = Math.min(t, this.blocks[0].created);
    if (this.markers.length) t = Math.min(t, this.markers[0].t);
    return Number.isFinite(t) ? t : 0;
  }
}
