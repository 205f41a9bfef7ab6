// The Moments view: the run's numbers, parameter inputs prefilled from the model,
// a debounced `evaluate` per edit, the reply shown with its evaluation time, stale
// replies and invalid inputs handled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStudio, type Studio, screenshotPath, useBrowser } from './harness';
import { syntheticSession } from './synthetic';

const browser = useBrowser();

async function cells(studio: Studio, row: string): Promise<string[]> {
  return studio.page.locator('.moments-table tbody tr', { hasText: row }).first().locator('th, td').allInnerTexts();
}

async function evaluations(studio: Studio) {
  return (await studio.posted()).filter((m) => m.type === 'evaluate');
}

test('shows the run moments and re-evaluates when a parameter changes', async () => {
  const studio = await openStudio(browser(), 'dark', 'moments');
  const snapshot = { ...syntheticSession(), tab: 'moments' as const };
  await studio.send({ type: 'snapshot', snapshot });
  const page = studio.page;
  assert.deepEqual(await cells(studio, 'time'), ['time', '1.6', '3.626666667', '11.232', '1.066666667']);
  assert.equal(
    await page.locator('.moments vscode-text-field[data-param="coal"]').evaluate((e) => (e as HTMLInputElement).value),
    '1',
  );
  assert.match(await page.locator('.eval-status').innerText(), /Evaluated with the run in 0\.410 ms/);

  await page.locator('.moments vscode-text-field[data-param="coal"] input').fill('2');
  // The debounce timer's evaluate, whenever it fires.
  const sent = await studio.waitForPosted('evaluate');
  assert.equal(sent.length, 1, 'one debounced evaluate per edit');
  assert.deepEqual(sent[0], {
    type: 'evaluate',
    requestId: sent[0].type === 'evaluate' ? sent[0].requestId : 0,
    traceKey: '9c1f2e3d4b5a6978',
    params: { coal: 2, rec: 1 },
  });
  assert.equal(await page.locator('.eval-status').innerText(), 'Evaluating…');

  const requestId = sent[0].type === 'evaluate' ? sent[0].requestId : -1;
  // A reply to an older request is ignored.
  await studio.send({
    type: 'evaluation',
    requestId: requestId - 1,
    result: { params: { coal: 9, rec: 1 }, moments: { time: [99] }, variance: {}, covariance: {}, evaluateMs: 1 },
  });
  assert.equal(await page.locator('.eval-status').innerText(), 'Evaluating…');
  await studio.send({
    type: 'evaluation',
    requestId,
    result: {
      params: { coal: 2, rec: 1 },
      moments: { time: [0.8, 0.9066666666666666], tmrca: [0.8, 0.9066666666666666] },
      variance: { time: 0.26666666666666666, tmrca: 0.26666666666666666 },
      covariance: { 'time,tmrca': 0.26666666666666666 },
      evaluateMs: 0.123,
    },
  });
  assert.deepEqual(await cells(studio, 'time'), ['time', '0.8', '0.9066666667', '0.2666666667']);
  assert.match(
    await page.locator('.eval-status').innerText(),
    /Evaluated in 0\.123 ms from the cached trace \(not re-recorded\)/,
  );
  assert.match(await page.locator('table caption', { hasText: 'Moments at' }).innerText(), /coal = 2, rec = 1/);
  await page.screenshot({ path: screenshotPath('moments-dark'), fullPage: true });
  assert.equal((await evaluations(studio)).length, 1, 'still one evaluate for the one edit');
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

test('an out-of-bounds or non-numeric parameter is flagged and not sent', async () => {
  const studio = await openStudio(browser(), 'light', 'moments');
  await studio.send({ type: 'snapshot', snapshot: { ...syntheticSession(), tab: 'moments' as const } });
  const page = studio.page;
  // The debounced check reports the input instead of sending it: the status it writes
  // is the event that says the timer fired.
  const status = (text: string) => page.locator('.eval-status', { hasText: text }).waitFor();
  await page.locator('.moments vscode-text-field[data-param="rec"] input').fill('11');
  await status('rec must be ≤ 10.');
  assert.equal((await evaluations(studio)).length, 0);
  assert.equal(await page.locator('.moments vscode-text-field[data-param="rec"]').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('.eval-status').innerText(), 'rec must be ≤ 10.');
  await page.locator('.moments vscode-text-field[data-param="rec"] input').fill('abc');
  await status('rec must be a number.');
  assert.equal((await evaluations(studio)).length, 0);
  assert.equal(await page.locator('.eval-status').innerText(), 'rec must be a number.');
  await page.locator('.moments vscode-text-field[data-param="rec"] input').fill('0.5');
  const sent = await studio.waitForPosted('evaluate');
  assert.equal(sent.length, 1);
  assert.equal(await page.locator('.moments vscode-text-field[data-param="rec"]').getAttribute('aria-invalid'), null);
  await studio.send({
    type: 'evaluation',
    requestId: sent[0].type === 'evaluate' ? sent[0].requestId : -1,
    error: 'engine restarted',
  });
  assert.equal(await page.locator('.eval-status').innerText(), 'Evaluation failed: engine restarted');
  // Typed as a rate, "0x1" is a slip, not hexadecimal 1: refused, not sent as 1.
  await page.locator('.moments vscode-text-field[data-param="rec"] input').fill('0x1');
  await status('rec must be a number.');
  assert.equal((await evaluations(studio)).length, 1);
  await page.screenshot({ path: screenshotPath('moments-light'), fullPage: true });
  await page.close();
});

test('parameters and rewards named like object members keep their values and reach the evaluate request', async () => {
  const studio = await openStudio(browser(), 'dark', 'moments');
  // Built from JSON, as the host's messages arrive: `__proto__` is an own key there.
  const snapshot = JSON.parse(JSON.stringify({ ...syntheticSession(), tab: 'moments' }));
  snapshot.run.model.params = [
    { name: '__proto__', default: 1, lo: 0, hi: 10 },
    { name: 'constructor', default: 1, lo: null, hi: null },
  ];
  snapshot.run.result.params = JSON.parse('{"__proto__": 2, "constructor": 0.5}');
  snapshot.run.result.moments = JSON.parse('{"time": [1.5, 3], "toString": [0.25, 0.5]}');
  snapshot.run.result.variance = JSON.parse('{"time": 0.75}');
  await studio.send({ type: 'snapshot', snapshot });
  const page = studio.page;
  const value = (name: string) =>
    page.locator(`.moments vscode-text-field[data-param="${name}"]`).evaluate((e) => (e as HTMLInputElement).value);
  assert.equal(await value('__proto__'), '2');
  assert.equal(await value('constructor'), '0.5');
  // A reward without a variance shows a dash, not an inherited member.
  assert.deepEqual(await cells(studio, 'toString'), ['toString', '0.25', '0.5', '—']);

  await page.locator('.moments vscode-text-field[data-param="constructor"] input').fill('3');
  await page.waitForFunction(() =>
    (window as unknown as { __posted: Array<{ type: string }> }).__posted.some((m) => m.type === 'evaluate'),
  );
  // As JSON text: Playwright's own transfer of objects would drop a `__proto__` key.
  const posted = JSON.parse(
    await page.evaluate(() => JSON.stringify((window as unknown as { __posted: unknown[] }).__posted)),
  ) as Array<{ type: string; params?: Record<string, number> }>;
  const sent = posted.filter((m) => m.type === 'evaluate');
  assert.equal(sent.length, 1);
  assert.deepEqual(Object.entries(sent[0].params ?? {}), [
    ['__proto__', 2],
    ['constructor', 3],
  ]);
  assert.deepEqual(studio.problems(), []);
  await page.close();
});

test('says ∞ and undefined, never null or NaN, and why', async () => {
  // Issue 11, point 3: infinite and undefined values arrive as the strings "Infinity"
  // and "NaN" (JSON has no such numbers) with the engine's reason.
  const studio = await openStudio(browser(), 'dark', 'moments');
  const session = syntheticSession();
  const run = session.run!;
  const reason = 'at these parameters the process is not absorbed with probability 1';
  const result = {
    ...run.result,
    moments: { time: ['Infinity', 'Infinity', 'Infinity'], tmrca: [1.5e200, 'Infinity'], 'xi[0]': ['NaN', 'NaN'] },
    variance: { time: 'Infinity', tmrca: 'Infinity', 'xi[0]': 'NaN' },
    covariance: { 'time,tmrca': 'NaN' },
    nonFinite: reason,
  } as typeof run.result;
  await studio.send({ type: 'snapshot', snapshot: { ...session, tab: 'moments' as const, run: { ...run, result } } });
  assert.deepEqual(await cells(studio, 'time'), ['time', '∞', '∞', '∞', '∞']);
  assert.deepEqual(await cells(studio, 'tmrca'), ['tmrca', '1.500000000e+200', '∞', '—', '∞']);
  assert.deepEqual(await cells(studio, 'xi[0]'), ['xi[0]', 'undefined', 'undefined', '—', 'undefined']);
  const note = await studio.page.locator('.moments .non-finite').innerText();
  assert.match(note, /E\[time\], E\[time\^2\], E\[time\^3\], E\[tmrca\^2\], Var\(time\) and Var\(tmrca\) are infinite/);
  assert.match(note, /E\[xi\[0\]\], E\[xi\[0\]\^2\], Var\(xi\[0\]\) and Cov\(time, tmrca\) are undefined/);
  assert.ok(note.includes(reason), note);
  assert.doesNotMatch(await studio.page.locator('.moments').innerText(), /null|NaN/);
  assert.deepEqual(studio.problems(), []);
  await studio.page.close();
});

test('says "out of range", never ∞ or undefined, where the process is absorbed with certainty', async () => {
  // Kingman at θ = 1e-200: E[tmrca] = 1.5e200 fits, E[tmrca²] ≈ 3.4e400 does not. Every
  // moment of a certain absorption is finite, so the engine says nonFiniteCause
  // "outOfRange" and the table must not call the second moment infinite.
  const studio = await openStudio(browser(), 'light', 'moments');
  const session = syntheticSession();
  const run = session.run!;
  const reason = 'the process is absorbed with probability 1 here, so every moment is finite';
  const result = {
    ...run.result,
    moments: { time: [1.5e200, 'Infinity'], tmrca: [1.5e200, 'Infinity'], 'xi[0]': [1e200, 'NaN'] },
    variance: { time: 'Infinity', tmrca: 'Infinity', 'xi[0]': 'NaN' },
    covariance: { 'time,tmrca': 'NaN' },
    nonFinite: reason,
    nonFiniteCause: 'outOfRange',
  } as typeof run.result;
  await studio.send({ type: 'snapshot', snapshot: { ...session, tab: 'moments' as const, run: { ...run, result } } });
  assert.deepEqual(await cells(studio, 'tmrca'), ['tmrca', '1.500000000e+200', 'out of range', 'out of range']);
  assert.deepEqual(await cells(studio, 'xi[0]'), ['xi[0]', '1.000000000e+200', 'out of range', 'out of range']);
  const note = await studio.page.locator('.moments .non-finite').innerText();
  assert.match(note, /Var\(xi\[0\]\) and Cov\(time, tmrca\) are out of range: the process is absorbed/);
  assert.doesNotMatch(await studio.page.locator('.moments').innerText(), /∞|undefined|null|NaN/);
  assert.deepEqual(studio.problems(), []);
  await studio.page.close();
});
