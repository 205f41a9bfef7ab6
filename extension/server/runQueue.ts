// One run at a time in the engine. A new run of a model that is already running or
// waiting cancels the older one (the newer request carries what the user wants now);
// runs of different models wait their turn in order. Both orders are the order in
// which the requests arrived: a run takes its place before its model is read, since
// reads finish in any order. Documented in docs/protocol.md.

export class Superseded extends Error {
  constructor() {
    super('superseded by a newer run of the same model');
  }
}

export class Cancelled extends Error {
  constructor() {
    super('the run was cancelled');
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

  /**
   * Takes a place for a run of `model` now, and runs `work` with what `preparing`
   * gives once the engine is free. Rejects with Superseded or Cancelled when a newer
   * run of the model or `cancel` stops it, and with `preparing`'s error as soon as it
   * fails (a waiting run then gives up its place).
   */
  run<P, T>(
    model: string,
    cancel: AbortSignal,
    preparing: Promise<P>,
    work: (prepared: P, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    for (const job of [this.running, ...this.waiting]) {
      if (job?.model === model) job.controller.abort(new Superseded());
    }
    const controller = new AbortController();
    if (cancel.aborted) controller.abort(new Cancelled());
    else cancel.addEventListener('abort', () => controller.abort(new Cancelled()), { once: true });
    return new Promise<T>((resolve, reject) => {
      // Once stopped, the reason is the answer, whatever the work made of the stop.
      const fail = (error: unknown) => reject(controller.signal.aborted ? controller.signal.reason : error);
      const leave = (reason: unknown) => {
        const index = this.waiting.indexOf(job);
        if (index < 0) return; // already running: the work itself observes the signal
        this.waiting.splice(index, 1);
        reject(reason);
      };
      const job: Job = {
        model,
        controller,
        start: () => {
          // A stop does not wait for the model's text: a read that never ends (a file
          // system that hangs) must not hold the engine for the runs behind it.
          const stopped = new Promise<never>((_, reject) => {
            const stop = () => reject(controller.signal.reason);
            if (controller.signal.aborted) stop();
            else controller.signal.addEventListener('abort', stop, { once: true });
          });
          Promise.race([preparing, stopped])
            .then((prepared) => {
              controller.signal.throwIfAborted();
              return work(prepared, controller.signal);
            })
            .then(resolve, fail)
            .finally(() => this.next());
        },
      };
      this.waiting.push(job);
      controller.signal.addEventListener('abort', () => leave(controller.signal.reason), { once: true });
      preparing.catch((error: unknown) => leave(error));
      if (!this.running) this.next();
    });
  }

  private next(): void {
    this.running = this.waiting.shift();
    this.running?.start();
  }
}
