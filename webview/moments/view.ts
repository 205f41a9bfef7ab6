// The Moments tab: moments, variances and covariances of each reward, and one input
// per parameter. Editing a value re-evaluates the run's cached composed trace in the
// engine (debounced; never a re-recording) and shows how long that took.
import { entry } from '../../extension/protocol/check';
import type { EvaluateResult } from '../../extension/protocol/engine';
import { formatMoment, nonFiniteSummary } from '../../extension/protocol/moment';
import type { PanelParam, PanelRun } from '../../extension/protocol/webview';
import { el, table } from '../dom';
import { formatMs, formatNumber } from '../../extension/protocol/format';
import type { StudioStore } from '../store';
import { button, numberField, type NumberField } from '../toolkit';
import { nextRequestId, post } from '../vscode';

const DEBOUNCE_MS = 250;

function bounds(p: PanelParam): string {
  if (p.lo !== null && p.hi !== null) return `${p.lo} – ${p.hi}`;
  if (p.lo !== null) return `≥ ${p.lo}`;
  if (p.hi !== null) return `≤ ${p.hi}`;
  return 'any real';
}

/** The value typed in a field, or why it cannot be used. */
export function parseParam(text: string, p: PanelParam): { value: number } | { error: string } {
  const t = text.trim();
  const value = Number(t);
  if (t === '' || !Number.isFinite(value)) return { error: `${p.name} must be a number` };
  if (p.lo !== null && value < p.lo) return { error: `${p.name} must be ≥ ${p.lo}` };
  if (p.hi !== null && value > p.hi) return { error: `${p.name} must be ≤ ${p.hi}` };
  return { value };
}

export class MomentsView {
  readonly element = el('section', { class: 'view moments', 'aria-labelledby': 'moments-heading' });
  private readonly intro = el('p', { class: 'muted' }, 'Run a model to see its moments.');
  private readonly form = el('div', { class: 'params', role: 'group', 'aria-label': 'Parameters' });
  private readonly status = el('p', { class: 'eval-status', role: 'status', 'aria-live': 'polite' });
  private readonly results = el('div', { class: 'results' });
  private fields = new Map<string, NumberField>();
  private run: PanelRun | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private request = 0;

  constructor(store: StudioStore) {
    this.element.append(
      el('h2', { id: 'moments-heading' }, 'Moments'),
      this.intro,
      this.form,
      this.status,
      this.results,
    );
    store.subscribe((c) => {
      if ((c === 'run' || c === 'all') && store.run !== this.run) this.setRun(store.run);
    });
  }

  private setRun(run: PanelRun | null): void {
    this.run = run;
    this.fields.clear();
    this.form.replaceChildren();
    this.results.replaceChildren();
    this.status.textContent = '';
    if (!run) return;
    const r = run.result;
    this.intro.textContent = `${run.model.name}: ${r.vertices.toLocaleString('en-US')} vertices. Changing a parameter re-evaluates the cached trace (${r.traceKey.slice(0, 12)}…); nothing is re-recorded.`;
    for (const p of run.model.params) {
      const field = numberField(`${p.name} (${bounds(p)})`, entry(r.params, p.name) ?? p.default, () => this.changed());
      field.element.setAttribute('data-param', p.name);
      this.fields.set(p.name, field);
      this.form.append(field.element);
    }
    if (run.model.params.length > 0) {
      this.form.append(
        button('Reset to defaults', () => {
          for (const p of run.model.params) this.fields.get(p.name)!.value = String(p.default);
          this.changed();
        }),
      );
    } else {
      this.form.append(el('p', { class: 'muted' }, 'This model has no parameters.'));
    }
    this.status.textContent = `Evaluated with the run in ${formatMs(r.timingsMs.evaluate)}.`;
    this.show(r);
  }

  private changed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.evaluate(), DEBOUNCE_MS);
  }

  private evaluate(): void {
    const run = this.run;
    if (!run) return;
    // No prototype: a parameter named `__proto__` must be a key of the message.
    const params = Object.create(null) as Record<string, number>;
    const errors: string[] = [];
    for (const p of run.model.params) {
      const field = this.fields.get(p.name)!;
      const parsed = parseParam(field.value, p);
      if ('error' in parsed) {
        field.setInvalid(parsed.error);
        errors.push(parsed.error);
      } else {
        field.setInvalid(null);
        params[p.name] = parsed.value;
      }
    }
    if (errors.length) {
      this.status.textContent = `${errors.join('; ')}.`;
      this.status.classList.add('error');
      return;
    }
    this.status.classList.remove('error');
    this.status.textContent = 'Evaluating…';
    this.request = nextRequestId();
    post({ type: 'evaluate', requestId: this.request, traceKey: run.result.traceKey, params });
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
  }

  private show(r: Pick<EvaluateResult, 'params' | 'moments' | 'variance' | 'covariance' | 'nonFinite'>): void {
    // Infinite values read ∞ and undefined ones "undefined", never "null" or "NaN"; a
    // note under the table says which and why (the engine's reason).
    const value = (m: EvaluateResult['variance'][string]) => formatMoment(m, formatNumber);
    const rewards = Object.keys(r.moments);
    const order = Math.max(0, ...rewards.map((k) => r.moments[k].length));
    const variance = (reward: string) => {
      const v = entry(r.variance, reward);
      return v === undefined ? '—' : value(v);
    };
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
          rows: cov.map(([k, v]) => [k.replace(',', ', '), value(v)]),
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
