// The Fit tab: fits parameters of the run's model to a site frequency spectrum in the
// engine (`phasic/fit` through the host). The data come from the command "Phasic: Fit
// Parameters to Data"; the fixed parameters are the shared ones of the Moments and
// Distribution views (webview/params.ts) and "Use these values" writes the estimates
// there, so those views follow. Only the newest fit's messages are drawn.
import { logWaldInterval, type StandardError } from '../../extension/protocol/fit';
import { formatNumber, readDecimal } from '../../extension/protocol/format';
import type { FitData, FitRecord, FitResult, FitStep, PanelRun } from '../../extension/protocol/webview';
import { el, table } from '../dom';
import { parseParam } from '../params';
import type { StudioStore } from '../store';
import { tableToggle } from '../tableToggle';
import type { Palette } from '../theme';
import { button, checkbox, type Checkbox, type NumberField, numberField } from '../toolkit';
import { nextRequestId, post, reserveRequestIds } from '../vscode';
import { WarningList } from '../warnings';
import type uPlot from 'uplot';
import { drawLoglik, drawSpectrum } from './chart';

/** The reward families of a run (NAME[0], NAME[1], … with no gap), by name, with their lengths. */
export function rewardFamilies(rewards: string[]): Map<string, number> {
  const indices = new Map<string, Set<number>>();
  for (const r of rewards) {
    const m = /^(.+)\[(\d+)\]$/.exec(r);
    if (!m) continue;
    const set = indices.get(m[1]) ?? new Set<number>();
    set.add(Number(m[2]));
    indices.set(m[1], set);
  }
  const out = new Map<string, number>();
  for (const [name, set] of indices) {
    let k = 0;
    while (set.has(k)) k++;
    if (k === set.size) out.set(name, k);
  }
  return out;
}

/** Entries that are data: unmasked, polymorphic, and (folded) at most n/2. */
export function usedEntries(d: FitData['spectrum']): number[] {
  const last = d.folded ? Math.floor(d.n / 2) : d.n - 1;
  const used: number[] = [];
  for (let i = 1; i <= last; i++) if (!d.mask[i] && d.counts[i] !== null) used.push(i);
  return used;
}

/** Observed and expected counts per entry as CSV (entries the fit did not use are empty). */
export function spectrumCsv(result: FitResult): string {
  const cell = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
  const rows = ['entry,observed,expected'];
  result.expected.forEach((e, i) => rows.push(`${i},${cell(result.observed[i])},${cell(e)}`));
  return `${rows.join('\n')}\n`;
}

const fmtSe = (se: StandardError) => (se === 'NaN' ? '—' : se === 'Infinity' ? '∞' : formatNumber(se));

interface ParamRow {
  box: Checkbox;
  start: NumberField;
}

export class FitView {
  readonly element = el('section', { class: 'view fit', 'aria-labelledby': 'fit-heading' });
  private readonly intro = el(
    'p',
    { class: 'muted' },
    'Run “Phasic: Fit Parameters to Data” to choose a spectrum (.fs) and the model to fit.',
  );
  private readonly summary = el('p', { class: 'fit-summary' });
  private readonly controls = el('div', { class: 'fit-controls' });
  private readonly rewardSelect = el('select', { id: 'fit-reward', 'aria-label': 'Reward family of the spectrum' });
  private readonly paramsBox = el('div', { class: 'fit-params', role: 'group', 'aria-label': 'Parameters to fit' });
  private readonly fitButton: HTMLElement;
  private readonly cancelButton: HTMLElement;
  private readonly useButton: HTMLElement;
  private readonly status = el('p', { class: 'fit-status', role: 'status', 'aria-live': 'polite' });
  private readonly errorBox = el('p', { class: 'fit-error', role: 'alert' });
  private readonly warnings = new WarningList('fit-warnings', 'Fit warnings');
  private readonly loglikFrame = el('div', { class: 'fit-chart fit-loglik', role: 'img' });
  private readonly spectrumFrame = el('div', { class: 'fit-chart fit-spectrum', role: 'img' });
  private readonly charts = el('div', { class: 'fit-charts' });
  private readonly results = el('div', { class: 'fit-results' });
  private readonly tables = el('div', { class: 'table-view tables', id: 'fit-tables' });
  private readonly exportStatus = el('span', { class: 'muted', role: 'status' });
  private rows = new Map<string, ParamRow>();
  private data: FitData | null = null;
  private run: PanelRun | null = null;
  private fitId = 0;
  private steps: FitStep[] = [];
  private result: FitResult | null = null;
  private loglikPlot: uPlot | null = null;
  private spectrumPlot: uPlot | null = null;

  constructor(
    private readonly store: StudioStore,
    private palette: Palette,
  ) {
    this.fitButton = button('Fit', () => this.startFit(), { appearance: 'primary' });
    this.cancelButton = button('Cancel', () => this.cancel(), { ariaLabel: 'Cancel the fit' });
    this.useButton = button('Use these values', () => this.useValues(), {
      title: 'Set the Moments and Distribution views’ parameters to the estimates',
    });
    this.fitButton.dataset.action = 'fit';
    this.cancelButton.dataset.action = 'cancel';
    this.useButton.dataset.action = 'use';
    this.cancelButton.setAttribute('disabled', '');
    this.useButton.setAttribute('disabled', '');
    this.errorBox.hidden = true;
    this.charts.hidden = true;
    this.charts.append(
      el('h3', {}, 'Log-likelihood by iteration'),
      this.loglikFrame,
      el('h3', {}, 'Observed and expected spectrum'),
      this.spectrumFrame,
    );
    const toggle = tableToggle(this.tables, () => this.renderTables());
    this.controls.append(
      el('label', { for: 'fit-reward' }, 'Reward family (the spectrum’s branch lengths) '),
      this.rewardSelect,
      this.paramsBox,
      el(
        'div',
        { class: 'toolbar', role: 'toolbar', 'aria-label': 'Fit controls' },
        this.fitButton,
        this.cancelButton,
        this.useButton,
        button('Export CSV…', () => this.exportCsv(), { ariaLabel: 'Export observed and expected counts as CSV' }),
        this.exportStatus,
      ),
    );
    this.controls.hidden = true;
    this.element.append(
      el('div', { class: 'view-head' }, el('h2', { id: 'fit-heading' }, 'Fit'), toggle),
      this.intro,
      this.summary,
      this.controls,
      this.status,
      this.errorBox,
      this.warnings.element,
      this.results,
      this.charts,
      this.tables,
    );
    store.subscribe((c) => {
      if ((c === 'run' || c === 'all') && store.run !== this.run) {
        this.run = store.run;
        this.build();
      }
      if (c === 'params') this.fillStarts(false);
    });
    new ResizeObserver(() => this.fit()).observe(this.charts);
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.draw();
  }

  /**
   * The host's data for the fit (a command, or the snapshot after a reload) and, in a
   * snapshot, the newest fit of it as the host kept it: still running (its steps so
   * far; the rest follow as progress) or ended while the page was away.
   */
  setData(data: FitData | null, record: FitRecord | null = null): void {
    this.data = data;
    this.steps = [];
    this.result = null;
    this.fitId = 0;
    this.build();
    if (data && record) this.restore(record);
  }

  progress(fitId: number, step: FitStep): void {
    if (fitId !== this.fitId) return;
    this.steps.push(step);
    this.showProgress();
    this.drawLoglik();
  }

  private showProgress(fit?: string[]): void {
    const step = this.steps[this.steps.length - 1];
    if (!step) {
      this.status.textContent = `Fitting ${(fit ?? []).join(', ')}…`;
      return;
    }
    const of = this.steps.some((s) => s.start > 1) ? ` (starting point ${step.start})` : '';
    this.status.textContent = `Fitting… iteration ${step.iteration}${of}: log-likelihood ${formatNumber(step.loglik)}`;
  }

  /** The controls as they were when the fit was asked for, then the fit as it stands. */
  private restore(r: FitRecord): void {
    const { request } = r;
    if ([...this.rewardSelect.options].some((o) => o.value === request.sfsReward))
      this.rewardSelect.value = request.sfsReward;
    for (const [name, row] of this.rows) {
      row.box.checked = request.fit.includes(name);
      const start = request.start[name];
      if (start !== undefined) {
        row.start.value = String(start);
        row.start.element.dataset.edited = 'true';
      }
    }
    // Ids this page hands out from now on must not be taken for the restored fit's.
    reserveRequestIds(r.fitId);
    this.fitId = r.fitId;
    this.steps = [...r.steps];
    if (r.status === 'running') {
      this.running(true);
      this.showProgress(request.fit);
      this.draw();
      return;
    }
    this.receive(r.fitId, r.result, r.status === 'cancelled', r.error);
    // A cancelled fit keeps its path on the chart, as when the page saw the cancel.
    if (r.status === 'cancelled') this.draw();
  }

  receive(fitId: number, result: FitResult | undefined, cancelled: boolean, error: string | undefined): void {
    if (fitId !== this.fitId) return;
    this.fitId = 0;
    this.running(false);
    if (cancelled) {
      this.status.textContent = 'Fit cancelled.';
      return;
    }
    if (!result) {
      this.showError(`Fit failed: ${error ?? 'no result'}`);
      this.status.textContent = '';
      return;
    }
    this.result = result;
    // The steps the engine kept are the whole record; notifications may have been missed while hidden.
    this.steps = result.steps;
    this.status.textContent = `${result.converged ? 'Converged' : 'Did not converge'} after ${result.iterations} iterations: log-likelihood ${formatNumber(result.loglik)}, scale ${formatNumber(result.scale)} (expected sites per unit branch length), ${formatNumber(result.sites)} segregating sites.`;
    this.useButton.removeAttribute('disabled');
    this.warnings.show(result.warnings);
    this.renderResults();
    this.draw();
  }

  exported(path: string | undefined, error: string | undefined): void {
    this.exportStatus.textContent = error ? `Export failed: ${error}` : path ? `Saved ${path}` : '';
  }

  private build(): void {
    const data = this.data;
    const run = this.run;
    this.rows.clear();
    this.paramsBox.replaceChildren();
    this.rewardSelect.replaceChildren();
    this.results.replaceChildren();
    this.warnings.show([]);
    this.showError(null);
    this.useButton.setAttribute('disabled', '');
    this.draw();
    if (!data) {
      this.intro.hidden = false;
      this.controls.hidden = true;
      this.summary.textContent = '';
      return;
    }
    this.intro.hidden = true;
    const d = data.spectrum;
    const used = usedEntries(d);
    const sites = used.reduce((s, i) => s + (d.counts[i] ?? 0), 0);
    const masked = d.mask.flatMap((m, i) => (m ? [i] : []));
    this.summary.textContent = `${data.name} (${data.path}): ${d.folded ? 'folded' : 'unfolded'} spectrum of n = ${d.n} samples${d.labels.length ? ` (${d.labels.join(', ')})` : ''}, ${formatNumber(sites)} segregating sites in ${used.length} entries${masked.length ? `; masked: ${masked.join(', ')}` : ''}.`;
    if (!run || run.model.uri !== data.modelUri) {
      this.controls.hidden = true;
      this.status.textContent =
        'The panel shows another model than the one chosen for this data; run the fit command again.';
      return;
    }
    // A fit uses the constants of the run made for the data: on another run its result would be this one's.
    if (run.result.traceKey !== data.traceKey) {
      this.controls.hidden = true;
      this.status.textContent =
        'The panel shows another run of this model than the one made for this data (other constants or an edited model); run the fit command again.';
      return;
    }
    this.controls.hidden = false;
    this.status.textContent = '';
    const families = rewardFamilies(Object.keys(run.result.moments));
    // The family whose length is the spectrum's n − 1 polymorphic entries is the likely SFS.
    const matching = [...families].find(([, len]) => len === d.n - 1)?.[0];
    for (const [name, len] of families) {
      const option = el(
        'option',
        { value: name },
        `${name}[0..${len - 1}]${len === d.n - 1 ? '' : ` (length ${len}, the data need ${d.n - 1})`}`,
      );
      if (name === matching) option.selected = true;
      this.rewardSelect.append(option);
    }
    if (families.size === 0) {
      this.rewardSelect.append(el('option', { value: '' }, 'the model has no reward family'));
    }
    for (const p of run.model.params) {
      const box = checkbox(`Fit ${p.name}`, false, () => undefined);
      box.element.setAttribute('data-fit-param', p.name);
      const start: NumberField = numberField(`${p.name}: start`, p.default, () => {
        start.element.dataset.edited = 'true';
      });
      start.element.setAttribute('data-start', p.name);
      this.rows.set(p.name, { box, start });
      this.paramsBox.append(el('div', { class: 'fit-param' }, box.element, start.element));
    }
    if (run.model.params.length === 0)
      this.paramsBox.append(el('p', { class: 'muted' }, 'This model has no parameters to fit.'));
    this.fillStarts(true);
  }

  /** Start values follow the shared parameters until the user types one. */
  private fillStarts(always: boolean): void {
    for (const [name, row] of this.rows) {
      const text = this.store.paramText[name];
      if (text !== undefined && (always || row.start.element.dataset.edited !== 'true')) row.start.value = text;
    }
  }

  private startFit(): void {
    const run = this.run;
    if (!run || !this.data || this.fitId !== 0) return;
    const fit = [...this.rows].filter(([, r]) => r.box.checked).map(([name]) => name);
    const problems: string[] = [];
    if (fit.length === 0) problems.push('tick at least one parameter to fit');
    const params = Object.create(null) as Record<string, number>;
    for (const p of run.model.params) {
      const parsed = parseParam(this.store.paramText[p.name] ?? String(p.default), p);
      if ('error' in parsed) problems.push(parsed.error);
      else params[p.name] = parsed.value;
    }
    const start = Object.create(null) as Record<string, number>;
    for (const name of fit) {
      const row = this.rows.get(name)!;
      const value = readDecimal(row.start.value);
      if (value === undefined || !(value > 0) || !Number.isFinite(value)) {
        row.start.setInvalid(`the start of ${name} must be a number > 0`);
        problems.push(`the start of ${name} must be a number > 0`);
      } else {
        row.start.setInvalid(null);
        start[name] = value;
      }
    }
    const sfsReward = this.rewardSelect.value;
    if (!sfsReward) problems.push('the model has no reward family to fit the spectrum to');
    if (problems.length) {
      this.showError(`Cannot fit: ${problems.join('; ')}.`);
      return;
    }
    this.showError(null);
    this.warnings.show([]);
    this.results.replaceChildren();
    this.result = null;
    this.steps = [];
    this.useButton.setAttribute('disabled', '');
    this.fitId = nextRequestId();
    this.running(true);
    this.showProgress(fit);
    this.draw();
    post({ type: 'fit', fitId: this.fitId, sfsReward, fit, start, params });
  }

  private cancel(): void {
    if (this.fitId === 0) return;
    this.status.textContent = 'Cancelling…';
    post({ type: 'fitCancel', fitId: this.fitId });
  }

  private running(on: boolean): void {
    if (on) {
      this.fitButton.setAttribute('disabled', '');
      this.cancelButton.removeAttribute('disabled');
    } else {
      this.fitButton.removeAttribute('disabled');
      this.cancelButton.setAttribute('disabled', '');
    }
  }

  /** The estimates become the shared parameter values: the Moments and Distribution views recompute. */
  private useValues(): void {
    const r = this.result;
    if (!r) return;
    for (const [name, value] of Object.entries(r.estimates)) this.store.setParam(name, String(value));
    this.status.textContent = `The Moments and Distribution views now use ${Object.entries(r.estimates)
      .map(([k, v]) => `${k} = ${formatNumber(v)}`)
      .join(', ')}.`;
  }

  private showError(message: string | null): void {
    this.errorBox.hidden = message === null;
    this.errorBox.textContent = message ?? '';
  }

  private renderResults(): void {
    const r = this.result;
    if (!r) return;
    const rows = Object.entries(r.estimates).map(([name, est]) => {
      const se = r.stderr[name] ?? 'NaN';
      const ci = logWaldInterval(est, se);
      return [
        name,
        formatNumber(est),
        fmtSe(se),
        ci ? `${formatNumber(ci[0])} – ${ci[1] === Infinity ? '∞' : formatNumber(ci[1])}` : '—',
      ];
    });
    const t = table({
      caption: 'Estimates (95% intervals: Wald on the log scale, θ̂·exp(±1.96·SE/θ̂), from the observed information)',
      headers: ['Parameter', 'Estimate', 'Std. error', '95% interval'],
      rows,
    });
    t.classList.add('fit-estimates');
    this.results.replaceChildren(t);
  }

  private renderTables(): void {
    if (this.tables.hidden) return;
    const r = this.result;
    if (!r) {
      this.tables.replaceChildren(el('p', { class: 'muted' }, 'No fit to show.'));
      return;
    }
    const cell = (v: number | null | undefined) => (v === null || v === undefined ? '—' : formatNumber(v));
    this.tables.replaceChildren(
      table({
        caption: 'Observed and expected sites by number of derived alleles',
        headers: ['Entry', 'Observed', 'Expected'],
        rows: r.expected.map((e, i) => [String(i), cell(r.observed[i]), cell(e)]),
      }),
      table({
        caption: 'Log-likelihood by iteration',
        headers: ['Step', 'Starting point', 'Iteration', 'Log-likelihood'],
        rows: this.steps.map((s, i) => [String(i + 1), String(s.start), String(s.iteration), formatNumber(s.loglik)]),
      }),
    );
  }

  private width(): number {
    return Math.max(320, Math.min(1200, this.charts.clientWidth || this.element.clientWidth || 800));
  }

  private drawLoglik(): void {
    this.charts.hidden = this.steps.length === 0 && !this.result;
    this.loglikPlot?.destroy();
    this.loglikPlot = null;
    this.loglikFrame.replaceChildren();
    if (this.steps.length) {
      this.loglikPlot = drawLoglik(this.loglikFrame, this.steps, this.width(), this.palette);
      this.loglikFrame.setAttribute('data-steps', String(this.steps.length));
      this.loglikFrame.setAttribute(
        'aria-label',
        `Log-likelihood over ${this.steps.length} iterations, last ${formatNumber(this.steps[this.steps.length - 1].loglik)}`,
      );
    }
    this.renderTables();
  }

  private draw(): void {
    this.drawLoglik();
    this.spectrumPlot?.destroy();
    this.spectrumPlot = null;
    this.spectrumFrame.replaceChildren();
    const r = this.result;
    if (r) {
      this.spectrumPlot = drawSpectrum(this.spectrumFrame, r, this.width(), this.palette);
      const bars = r.observed.filter((o) => o !== null).length;
      this.spectrumFrame.setAttribute('data-entries', String(bars));
      this.spectrumFrame.setAttribute('aria-label', `Observed and expected sites in ${bars} entries of the spectrum`);
    }
  }

  private fit(): void {
    const width = this.width();
    for (const plot of [this.loglikPlot, this.spectrumPlot]) {
      if (plot && Math.abs(plot.width - width) > 1) plot.setSize({ width, height: plot.height });
    }
  }

  private exportCsv(): void {
    if (!this.result) {
      this.exportStatus.textContent = 'Nothing to export yet.';
      return;
    }
    this.exportStatus.textContent = 'Exporting…';
    post({ type: 'exportCsv', csv: spectrumCsv(this.result) });
  }
}
