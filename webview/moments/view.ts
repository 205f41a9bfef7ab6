// The Moments tab: moments, variances and covariances of each reward, and one input
// per parameter (shared with the Distribution view: webview/params.ts). Editing a
// value re-evaluates the run's cached composed trace in the engine (debounced; never
// a re-recording) and shows how long that took. A variance or covariance the engine
// judged imprecise at the shown parameters is marked, and its warning listed (decision 112).
import { entry } from '../../extension/protocol/check';
import type { EvaluateResult } from '../../extension/protocol/engine';
import { formatMoment, momentDoubt, nonFiniteSummary, runMomentWarning } from '../../extension/protocol/moment';
import type { PanelRun } from '../../extension/protocol/webview';
import { el, table } from '../dom';
import { formatMs, formatNumber } from '../../extension/protocol/format';
import type { StudioStore } from '../store';
import { ParamForm } from '../params';
import { nextRequestId, post } from '../vscode';
import { markDoubt, WarningList } from '../warnings';

const DEBOUNCE_MS = 250;

export class MomentsView {
  readonly element = el('section', { class: 'view moments', 'aria-labelledby': 'moments-heading' });
  private readonly intro = el('p', { class: 'muted' }, 'Run a model to see its moments.');
  private readonly form: ParamForm;
  private readonly status = el('p', { class: 'eval-status', role: 'status', 'aria-live': 'polite' });
  private readonly warnings = new WarningList('moment-warnings', 'Warnings about these moments');
  private readonly results = el('div', { class: 'results' });
  private run: PanelRun | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private request = 0;

  constructor(private readonly store: StudioStore) {
    this.form = new ParamForm(store, () => this.changed());
    this.element.append(
      el('h2', { id: 'moments-heading' }, 'Moments'),
      this.intro,
      this.form.element,
      this.status,
      this.warnings.element,
      this.results,
    );
    store.subscribe((c) => {
      if ((c === 'run' || c === 'all') && store.run !== this.run) this.setRun(store.run);
    });
  }

  private setRun(run: PanelRun | null): void {
    this.run = run;
    this.results.replaceChildren();
    this.warnings.show([]);
    this.status.textContent = '';
    if (!run) return;
    const r = run.result;
    this.intro.textContent = `${run.model.name}: ${r.vertices.toLocaleString('en-US')} vertices. Changing a parameter re-evaluates the cached trace (${r.traceKey.slice(0, 12)}…); nothing is re-recorded.`;
    this.status.textContent = `Evaluated with the run in ${formatMs(r.timingsMs.evaluate)}.`;
    this.show({ ...r, impreciseMoments: runMomentWarning(r.warnings) });
  }

  private changed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.evaluate(), DEBOUNCE_MS);
  }

  private evaluate(): void {
    const run = this.run;
    if (!run) return;
    const values = this.form.read();
    if ('errors' in values) {
      this.status.textContent = `${values.errors.join('; ')}.`;
      this.status.classList.add('error');
      return;
    }
    this.status.classList.remove('error');
    this.status.textContent = 'Evaluating…';
    this.request = nextRequestId();
    post({ type: 'evaluate', requestId: this.request, traceKey: run.result.traceKey, params: values.params });
  }

  /** The host's reply; replies to superseded requests are ignored. */
  receive(requestId: number, result: EvaluateResult | undefined, error: string | undefined): void {
    if (requestId !== this.request) return;
    if (!result) {
      this.status.textContent = `Evaluation failed: ${error ?? 'no result'}`;
      this.status.classList.add('error');
      return;
    }
    this.status.classList.remove('error');
    this.status.textContent = `Evaluated in ${formatMs(result.evaluateMs)} from the cached trace (not re-recorded).`;
    this.show(result);
    // The Distribution view puts the mean and standard deviation beside its quantiles.
    this.store.setMoments(result);
  }

  private show(
    r: Pick<
      EvaluateResult,
      'params' | 'moments' | 'variance' | 'covariance' | 'nonFinite' | 'nonFiniteCause' | 'impreciseMoments'
    >,
  ): void {
    // Infinite values read ∞, undefined ones "undefined" and those beyond a double "out of
    // range", never "null" or "NaN"; a note under the table says which and why (the engine's reason).
    const value = (m: EvaluateResult['variance'][string]) => formatMoment(m, formatNumber, r.nonFiniteCause);
    const rewards = Object.keys(r.moments);
    const order = Math.max(0, ...rewards.map((k) => r.moments[k].length));
    const variance = (reward: string) => {
      const v = entry(r.variance, reward);
      return v === undefined ? '—' : markDoubt(value(v), momentDoubt(r.impreciseMoments, `Var(${reward})`));
    };
    this.warnings.show(r.impreciseMoments ? [r.impreciseMoments] : []);
    const power = (k: number) => (k === 1 ? 'E[X]' : `E[X${String(k).replace(/\d/g, (d) => '⁰¹²³⁴⁵⁶⁷⁸⁹'[Number(d)])}]`);
    const moments = table({
      caption: `Moments at ${
        Object.entries(r.params)
          .map(([k, v]) => `${k} = ${formatNumber(v)}`)
          .join(', ') || 'the model’s values'
      }`,
      headers: ['Reward', ...Array.from({ length: order }, (_, i) => power(i + 1)), 'Variance'],
      rows: rewards.map((k) => [
        k,
        ...Array.from({ length: order }, (_, i) => (r.moments[k][i] === undefined ? '—' : value(r.moments[k][i]))),
        variance(k),
      ]),
    });
    moments.classList.add('moments-table');
    const parts: Node[] = [moments];
    const cov = Object.entries(r.covariance);
    if (cov.length) {
      parts.push(
        table({
          caption: 'Covariances',
          headers: ['Rewards', 'Covariance'],
          rows: cov.map(([k, v]) => {
            const pair = k.replace(',', ', ');
            return [pair, markDoubt(value(v), momentDoubt(r.impreciseMoments, `Cov(${pair})`))];
          }),
        }),
      );
    }
    const notFinite = nonFiniteSummary(r);
    if (notFinite.length) {
      parts.push(
        el('p', { class: 'non-finite', role: 'note' }, `${notFinite.join('; ')}: ${r.nonFinite ?? 'not finite'}.`),
      );
    }
    this.results.replaceChildren(...parts);
  }
}
