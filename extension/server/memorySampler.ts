// Pushes the engine's memory figures to the host: every 100 ms while a run is in
// progress (the timeline streams), every second otherwise.
import type { MemorySnapshot } from '../protocol/engine';

const RUNNING_MS = 100;
const IDLE_MS = 1000;

export class MemorySampler {
  private timer: NodeJS.Timeout | undefined;
  private activeRuns = 0;

  constructor(
    private readonly sample: () => MemorySnapshot,
    private readonly publish: (snapshot: MemorySnapshot) => void,
  ) {}

  start(): void {
    this.schedule();
  }

  runStarted(): void {
    this.activeRuns++;
    this.tick();
  }

  runEnded(): void {
    this.activeRuns = Math.max(0, this.activeRuns - 1);
    this.tick();
  }

  /** Samples now (also used to mark a moment such as Clear Caches). */
  tick(): void {
    this.publish(this.sample());
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), this.activeRuns > 0 ? RUNNING_MS : IDLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
