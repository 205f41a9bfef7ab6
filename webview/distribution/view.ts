// The Distribution tab: density and CDF of the chosen rewards (time to absorption and
// every reward of the model, several overlaid) from the run's cached trace, the
// quantiles with the mean ± sd of the moments beside them, the atom at 0 where there
// is one, a log density axis, a table view and PNG / CSV export. The parameter fields
// are the Moments view's (one state in the store, webview/params.ts); an edit asks
// the host again, debounced, and the reply redraws. Only the newest request's reply
// is drawn, and a failed one shows its error instead of any chart.
import { entry } from '../../extension/protocol/check';
import { formatMs, formatNumber, formatQuantile } from '../../extension/protocol/format';
import { formatMoment, momentDoubt } from '../../extension/protocol/moment';
import type { DistributionResult, PanelRun } from '../../extension/protocol/webview';
import { el, table } from '../dom';
import { ParamForm } from '../params';
import type { MomentsAt, StudioStore } from '../store';
import { tableToggle } from '../tableToggle';
import type { Palette } from '../theme';
import { button, checkbox, type Checkbox } from '../toolkit';
import { nextRequestId, post } from '../vscode';
import { markDoubt } from '../warnings';
import type uPlot from 'uplot';
import { CURVE_TITLES, chartsPng, drawChart, type Curve } from './chart';

const DEBOUNCE_MS = 250;
const CURVES: Curve[] = ['pdf', 'cdf', 'survival'];

/** "5%", "99.9%": a probability as the table's column of levels reads it. */
export const percent = (p: number) => `${Number((p * 100).toPrecision(6))}%`;

/**
 * The curves as CSV, one row per reward and time (each reward has its own grid). The
 * survival is the last column, so a script that reads the first four by name or by
 * place reads what it did. Where the engine gives no survival (below survivalFloor)
 * its cell is empty, CSV's missing value, as the CLI's --json writes null: a text such
 * as `< 1e-289` would turn the whole column into strings for pandas or R, and a 0
 * would claim a value the engine did not resolve (decision 102).
 */
export function curvesCsv(results: DistributionResult[]): string {
  const quote = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = ['reward,t,cdf,density,survival'];
  for (const r of results) {
    const name = quote(r.reward);
    r.times.forEach((t, i) => rows.push(`${name},${t},${r.cdf[i]},${r.pdf[i]},${r.survival[i] ?? ''}`));
  }
  return `${rows.join('\n')}\n`;
}

/**
 * Why a reply cannot be drawn as it is: the schema checks each result's curves, not
 * that the results are those of the rewards asked for, nor that a curve has points.
 */
function inconsistency(results: DistributionResult[], rewards: string[]): string | undefined {
  if (results.length !== rewards.length || results.some((r, i) => r.reward !== rewards[i]))
    return `the engine answered for ${results.map((r) => r.reward).join(', ') || 'no reward'}, not ${rewards.join(', ')}`;
  const empty = results.find((r) => r.times.length === 0);
  return empty ? `the engine gave no points for ${empty.reward}` : undefined;
}

const sameParams = (a: Record<string, number>, b: Record<string, number>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => entry(b, k) === a[k]);
};

export class DistributionView {
  readonly element = el('section', { class: 'view distribution', 'aria-labelledby': 'distribution-heading' });
  private readonly intro = el('p', { class: 'muted' }, 'Run a model to see its distributions.');
  private readonly form: ParamForm;
  private readonly rewardsBox = el('div', { class: 'rewards', role: 'group', 'aria-label': 'Rewards to plot' });
  private readonly logAxis: Checkbox;
  /** Shows the survival P(Y > t) on its own log-axis chart (the tail the CDF flattens). */
  private readonly survivalBox: Checkbox;
  private readonly survivalGroup = el('div', { class: 'dist-survival-group' });
  private readonly status = el('p', { class: 'dist-status', role: 'status', 'aria-live': 'polite' });
  private readonly exportStatus = el('span', { class: 'muted', role: 'status' });
  private readonly errorBox = el('p', { class: 'dist-error', role: 'alert' });
  private readonly charts = el('div', { class: 'dist-charts' });
  private readonly chartFrames = new Map<Curve, HTMLElement>();
  private readonly quantiles = el('div', { class: 'dist-quantiles' });
  private readonly tables = el('div', { class: 'table-view tables', id: 'distribution-tables' });
  private rewardBoxes = new Map<string, Checkbox>();
  private drawn = new Map<Curve, uPlot>();
  /** The reply's status line, completed with the drawing time once uPlot has drawn it. */
  private pendingStatus: { text: string; started: number } | null = null;
  private run: PanelRun | null = null;
  /** The newest reply drawn: redrawn from here on a theme, axis or reward change. */
  private results: DistributionResult[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private request = 0;
  private visible = false;
  /** The shown curves are not those of the current run, parameters and rewards. */
  private stale = false;

  constructor(
    private readonly store: StudioStore,
    private palette: Palette,
  ) {
    this.form = new ParamForm(store, () => this.changed());
    this.logAxis = checkbox('Logarithmic density axis', false, () => this.draw());
    this.logAxis.element.classList.add('log-axis');
    this.survivalBox = checkbox('Survival P(Y > t), logarithmic axis', false, () => this.draw());
    this.survivalBox.element.classList.add('survival-axis');
    for (const curve of CURVES) {
      const frame = el('div', { class: `dist-chart dist-${curve}`, role: 'img', 'data-curve': curve });
      this.chartFrames.set(curve, frame);
      const title = el('h3', {}, CURVE_TITLES[curve]);
      if (curve === 'survival') this.charts.append(this.survivalGroup);
      (curve === 'survival' ? this.survivalGroup : this.charts).append(title, frame);
    }
    this.survivalGroup.hidden = true;
    const toggle = tableToggle(this.tables, () => this.renderTables());
    const toolbar = el(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Distribution controls' },
      this.logAxis.element,
      this.survivalBox.element,
      button('Export PNG…', () => this.exportPng(), { ariaLabel: 'Export the charts as PNG' }),
      button('Export CSV…', () => this.exportCsv(), { ariaLabel: 'Export the curves as CSV' }),
      this.exportStatus,
    );
    this.errorBox.hidden = true;
    this.charts.hidden = true;
    this.element.append(
      el('div', { class: 'view-head' }, el('h2', { id: 'distribution-heading' }, 'Distribution'), toggle),
      this.intro,
      this.form.element,
      this.rewardsBox,
      toolbar,
      this.status,
      this.errorBox,
      this.charts,
      this.quantiles,
      this.tables,
    );
    store.subscribe((c) => {
      if ((c === 'run' || c === 'all') && store.run !== this.run) this.setRun(store.run);
      if (c === 'moments') this.renderQuantiles();
    });
    // A chart drawn while its tab was hidden had no width: fit it when shown or resized.
    new ResizeObserver(() => this.fit()).observe(this.charts);
  }

  /** The tab became visible or hidden: the engine is asked only for what is seen. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.stale) this.compute();
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.draw();
  }

  private setRun(run: PanelRun | null): void {
    this.run = run;
    this.results = [];
    this.request = 0;
    this.rewardBoxes.clear();
    this.rewardsBox.replaceChildren();
    this.showError(null);
    this.status.textContent = '';
    this.draw();
    if (!run) return;
    this.intro.textContent = `${run.model.name}: the distribution of the time to absorption and of each reward, computed from the cached trace (${run.result.traceKey.slice(0, 12)}…); nothing is re-recorded.`;
    const rewards = ['time', ...Object.keys(run.result.moments).filter((k) => k !== 'time')];
    for (const reward of rewards) {
      const box = checkbox(reward, reward === 'time', () => this.compute());
      box.element.setAttribute('data-reward', reward);
      this.rewardBoxes.set(reward, box);
      this.rewardsBox.append(box.element);
    }
    this.compute();
  }

  private chosen(): string[] {
    return [...this.rewardBoxes].filter(([, box]) => box.checked).map(([name]) => name);
  }

  private changed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.compute(), DEBOUNCE_MS);
  }

  /** Asks the host for the chosen rewards at the fields' parameters (only when the tab is seen). */
  private compute(): void {
    const run = this.run;
    if (!run) return;
    this.stale = true;
    if (!this.visible) return;
    const values = this.form.read();
    if ('errors' in values) {
      this.status.textContent = `${values.errors.join('; ')}.`;
      this.status.classList.add('error');
      return;
    }
    const rewards = this.chosen();
    if (rewards.length === 0) {
      this.request = 0;
      this.results = [];
      this.status.classList.remove('error');
      this.status.textContent = 'Choose a reward to plot.';
      this.draw();
      return;
    }
    this.stale = false;
    this.status.classList.remove('error');
    this.status.textContent = 'Computing…';
    this.request = nextRequestId();
    post({
      type: 'distribution',
      requestId: this.request,
      traceKey: run.result.traceKey,
      rewards,
      params: values.params,
    });
  }

  /** The host's reply; replies to superseded requests are ignored. */
  receive(requestId: number, results: DistributionResult[] | undefined, error: string | undefined): void {
    if (requestId !== this.request) return;
    const problem = results ? inconsistency(results, this.chosen()) : (error ?? 'no result');
    if (problem || !results) {
      this.results = [];
      this.showError(`Distribution failed: ${problem}`);
      this.status.textContent = '';
      this.draw();
      return;
    }
    this.showError(null);
    this.results = results;
    const engineMs = results.reduce((s, r) => s + r.timingsMs.total, 0);
    const steps = results.map((r) => `${r.reward}: ${r.method.steps} steps`).join(', ');
    this.pendingStatus = {
      text: `Took ${formatMs(engineMs)} in the engine from the cached trace (not re-recorded; ${results[0].method.name}, ${steps}, ε = ${results[0].epsilon})`,
      started: performance.now(),
    };
    this.draw();
  }

  exported(path: string | undefined, error: string | undefined): void {
    this.exportStatus.textContent = error ? `Export failed: ${error}` : path ? `Saved ${path}` : '';
  }

  private showError(message: string | null): void {
    this.errorBox.hidden = message === null;
    this.errorBox.textContent = message ?? '';
  }

  /** Both charts, the quantiles and (when open) the tables from `results`, or none of them. */
  private draw(): void {
    for (const plot of this.drawn.values()) plot.destroy();
    this.drawn.clear();
    const results = this.results;
    this.charts.hidden = results.length === 0;
    const curves = this.shownCurves();
    this.survivalGroup.hidden = !curves.includes('survival');
    this.chartFrames.get('survival')!.replaceChildren();
    if (results.length) {
      const width = this.chartWidth();
      const log = this.logAxis.checked;
      const names = results.map((r) => r.reward).join(', ');
      for (const curve of curves) {
        const frame = this.chartFrames.get(curve)!;
        frame.replaceChildren();
        const onDraw = (plot: uPlot, yTicks: number[]) => {
          const end = formatNumber(plot.scales.x.max ?? 0);
          const logY = curve === 'survival' || (curve === 'pdf' && log);
          const axis = curve === 'cdf' ? '' : logY ? ', logarithmic axis' : ', linear axis';
          frame.setAttribute('aria-label', `${CURVE_TITLES[curve]} of ${names} from t = 0 to ${end}${axis}`);
          frame.setAttribute('data-y-scale', logY ? 'log' : 'linear');
          frame.setAttribute('data-y-ticks', yTicks.join(' '));
          const pending = this.pendingStatus;
          if (pending && curve === curves[curves.length - 1]) {
            this.pendingStatus = null;
            this.status.textContent = `${pending.text}, drawn in ${formatMs(performance.now() - pending.started)}.`;
          }
        };
        this.drawn.set(
          curve,
          drawChart(frame, { curve, results, log: log && curve === 'pdf', width, palette: this.palette, onDraw }),
        );
      }
    } else {
      for (const frame of this.chartFrames.values()) frame.replaceChildren();
    }
    this.renderQuantiles();
    this.renderTables();
  }

  private shownCurves(): Curve[] {
    return CURVES.filter((c) => c !== 'survival' || this.survivalBox.checked);
  }

  private chartWidth(): number {
    return Math.max(320, Math.min(1200, this.charts.clientWidth || this.element.clientWidth || 800));
  }

  private fit(): void {
    const width = this.chartWidth();
    for (const plot of this.drawn.values()) {
      if (Math.abs(plot.width - width) > 1) plot.setSize({ width, height: plot.height });
    }
  }

  /** Rows: the quantile levels, the atom (when a reward has one), mean ± sd; a column per reward. */
  private renderQuantiles(): void {
    const results = this.results;
    if (!results.length) {
      this.quantiles.replaceChildren();
      return;
    }
    const levels = results[0].quantiles.map((q) => q.p);
    const rows: Array<Array<string | Node>> = levels.map((p) => [
      percent(p),
      ...results.map((r) => {
        const q = r.quantiles.find((x) => x.p === p);
        return q ? formatQuantile(q) : '—';
      }),
    ]);
    if (results.some((r) => r.atom > 0)) rows.push(['P(Y = 0)', ...results.map((r) => formatNumber(r.atom))]);
    const moments = this.store.moments;
    rows.push(['Mean ± sd', ...results.map((r) => meanSd(moments, r))]);
    const t = table({
      caption: `Quantiles at ${
        Object.entries(results[0].params)
          .map(([k, v]) => `${k} = ${formatNumber(v)}`)
          .join(', ') || 'the model’s values'
      }`,
      headers: ['Level', ...results.map((r) => r.reward)],
      rows,
    });
    t.classList.add('quantile-table');
    this.quantiles.replaceChildren(t);
  }

  private renderTables(): void {
    if (this.tables.hidden) return;
    this.tables.replaceChildren(
      ...this.results.map((r) =>
        table({
          caption: `${r.reward}: ${r.times.length} points (error ≤ ${r.epsilon})`,
          headers: ['t', 'CDF', 'Survival', 'Density'],
          rows: r.times.map((t, i) => {
            const s = r.survival[i];
            const survival = s === null ? `< ${r.survivalFloor.toExponential(0)}` : formatNumber(s);
            return [formatNumber(t), formatNumber(r.cdf[i]), survival, formatNumber(r.pdf[i])];
          }),
        }),
      ),
    );
    if (!this.results.length) this.tables.append(el('p', { class: 'muted' }, 'No curves to show.'));
  }

  private exportPng(): void {
    if (!this.drawn.size) {
      this.exportStatus.textContent = 'Nothing to export yet.';
      return;
    }
    this.exportStatus.textContent = 'Exporting…';
    const charts = this.shownCurves().map((c) => ({ title: CURVE_TITLES[c], plot: this.drawn.get(c)! }));
    post({
      type: 'exportPng',
      png: chartsPng(
        charts,
        this.results.map((r) => r.reward),
        this.palette,
      ),
    });
  }

  private exportCsv(): void {
    if (!this.results.length) {
      this.exportStatus.textContent = 'Nothing to export yet.';
      return;
    }
    this.exportStatus.textContent = 'Exporting…';
    post({ type: 'exportCsv', csv: curvesCsv(this.results) });
  }
}

/**
 * The mean ± sd of a reward from the moments, when they are at the result's parameters;
 * an sd whose variance the engine judged imprecise is marked (its digits are the
 * variance's: √ halves the relative error, decision 112).
 */
function meanSd(moments: MomentsAt | null, r: DistributionResult): string | Node {
  if (!moments || !sameParams(moments.params, r.params)) return '…';
  const mean = entry(moments.moments, r.reward)?.[0];
  const variance = entry(moments.variance, r.reward);
  if (mean === undefined) return '—';
  const cause = moments.nonFiniteCause;
  const shownMean = `${formatMoment(mean, formatNumber, cause)} ± `;
  if (variance === undefined) return `${shownMean}—`;
  const sd = formatMoment(
    typeof variance === 'number' ? Math.sqrt(Math.max(0, variance)) : variance,
    formatNumber,
    cause,
  );
  const doubt = momentDoubt(moments.impreciseMoments, `Var(${r.reward})`);
  if (doubt === undefined) return shownMean + sd;
  return el(
    'span',
    {},
    shownMean,
    markDoubt(sd, `sd = √Var(${r.reward}), and ${doubt}: the difference of two nearly equal moments (see Moments)`),
  );
}
