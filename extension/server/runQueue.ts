// One run at a time in the engine. A new run of a model that is already running or
// waiting cancels the older one (the newer request carries what the user wants now);
// runs of different models wait their turn in order. Documented in docs/protocol.md.

export class Superseded extends Error {
  constructor() {
    super('superseded by a newer run of the same model');
  }
}

interface Job {
  model: string;
  controller: AbortController;
  start: () => void;
}

export class RunQueue {
  private running: Job | undefined;
  private readonly waiting: Job[] = [];

  /** Runs `work` when the engine is free; `signal` aborts when superseded or cancelled. */
  run<T>(model: string, cancel: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    for (const job of [this.running, ...this.waiting]) {
      if (job?.model === model) job.controller.abort(new Superseded());
    }
    const controller = new AbortController();
    if (cancel.aborted) controller.abort(cancel.reason);
    else cancel.addEventListener('abort', () => controller.abort(cancel.reason), { once: true });
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        model,
        controller,
        start: () => {
          work(controller.signal)
            .then(resolve, reject)
            .finally(() => this.next());
        },
      };
      this.waiting.push(job);
      controller.signal.addEventListener(
        'abort',
        () => {
          const index = this.waiting.indexOf(job);
          if (index < 0) return; // already running: the work itself observes the signal
          this.waiting.splice(index, 1);
          reject(controller.signal.reason);
        },
        { once: true },
      );
      if (!this.running) this.next();
    });
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  private next(): void {
    this.running = this.waiting.shift();
    this.running?.start();
  }
}
