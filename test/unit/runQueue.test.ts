// The engine process's run queue: one run at a time, a newer run of a model stops the
// older one, and both orders are the order of arrival, whatever order the models' texts
// are read in. Each stop is answered with its reason, never as an engine failure.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cancelled, RunQueue, Superseded } from '../../extension/server/runQueue';

/** A promise and the functions that settle it, so the test decides when a read finishes. */
function later<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

const never = new AbortController().signal;

test('a newer run supersedes an older one that arrived first, though its text is read first', async () => {
  const queue = new RunQueue();
  const olderText = later<string>();
  const newerText = later<string>();
  const worked: string[] = [];
  const work = async (text: string, signal: AbortSignal) => {
    signal.throwIfAborted();
    worked.push(text);
    return text;
  };
  const older = queue.run('m', never, olderText.promise, work);
  const newer = queue.run('m', never, newerText.promise, work);
  newerText.resolve('newer');
  olderText.resolve('older');
  await assert.rejects(older, Superseded);
  assert.equal(await newer, 'newer');
  assert.deepEqual(worked, ['newer']);
});

test('runs of different models wait in arrival order; a cancelled waiting run leaves at once', async () => {
  const queue = new RunQueue();
  const first = later<string>();
  const order: string[] = [];
  const work = async (text: string) => {
    order.push(text);
    return text;
  };
  const a = queue.run('a', never, first.promise, work);
  const cancel = new AbortController();
  const b = queue.run('b', cancel.signal, Promise.resolve('b'), work);
  const c = queue.run('c', never, Promise.resolve('c'), work);
  cancel.abort();
  await assert.rejects(b, Cancelled);
  first.resolve('a');
  assert.deepEqual(await Promise.all([a, c]), ['a', 'c']);
  assert.deepEqual(order, ['a', 'c']);
});

test("a model that cannot be read fails at once, even while another model's run holds the engine", async () => {
  const queue = new RunQueue();
  const busy = later<string>();
  const running = queue.run('a', never, Promise.resolve('a'), () => busy.promise);
  const unreadable = new Error('no such file');
  const waiting = queue.run('b', never, Promise.reject(unreadable), async () => 'b');
  await assert.rejects(waiting, (error) => error === unreadable);
  busy.resolve('a');
  assert.equal(await running, 'a');
});

test('a running run that is stopped answers with why it stopped, not with what its work threw', async () => {
  const queue = new RunQueue();
  const cancel = new AbortController();
  const started = later<void>();
  const stoppable = (_: string, signal: AbortSignal) =>
    new Promise<string>((_resolve, reject) => {
      started.resolve();
      signal.addEventListener('abort', () => reject(new Error('the engine stopped')), { once: true });
    });
  const cancelled = queue.run('m', cancel.signal, Promise.resolve('m'), stoppable);
  await started.promise;
  cancel.abort();
  await assert.rejects(cancelled, Cancelled);

  const superseded = queue.run('m', never, Promise.resolve('m'), stoppable);
  const newer = queue.run('m', never, Promise.resolve('m'), async () => 'newer');
  await assert.rejects(superseded, Superseded);
  assert.equal(await newer, 'newer');
});

// The timeout turns a hang (the bug this guards against) into a failure.
test('a run whose model is never read can still be stopped, and the runs behind it go on', {
  timeout: 10_000,
}, async () => {
  const queue = new RunQueue();
  const cancel = new AbortController();
  const hanging = queue.run('a', cancel.signal, new Promise<string>(() => undefined), async () => 'a');
  const behind = queue.run('b', never, Promise.resolve('b'), async (text) => text);
  cancel.abort();
  await assert.rejects(hanging, Cancelled);
  assert.equal(await behind, 'b');

  const unread = queue.run('c', never, new Promise<string>(() => undefined), async () => 'never');
  const newer = queue.run('c', never, Promise.resolve('c'), async (text) => text);
  await assert.rejects(unread, Superseded);
  assert.equal(await newer, 'c');

  const cancelledAlready = new AbortController();
  cancelledAlready.abort();
  await assert.rejects(
    queue.run('d', cancelledAlready.signal, new Promise<string>(() => undefined), async () => 'd'),
    Cancelled,
  );
});
