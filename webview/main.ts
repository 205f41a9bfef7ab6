// Entry of the Phasic Studio webview: builds the five tabs, says `ready`, and routes
// each validated host message into the store the views draw from.
import { STUDIO_TABS, type StudioTab } from '../extension/protocol/webview';
import { DistributionView } from './distribution/view';
import { FitView } from './fit/view';
import { el } from './dom';
import { MemoryView } from './memory/view';
import { MomentsView } from './moments/view';
import { SccView } from './scc/view';
import { StudioStore } from './store';
import { onThemeChange, readPalette } from './theme';
import { registerToolkit, tabs } from './toolkit';
import { onHostMessage, post, rememberTab } from './vscode';
import './styles.css';

registerToolkit();

const store = new StudioStore();
const initial = document.body.dataset.initialTab as StudioTab;
const app = document.getElementById('app')!;

const engineLine = el('p', { class: 'engine', 'aria-live': 'polite' }, 'Engine not started');
const renderEngine = () => {
  const e = store.engine;
  if (!e) return;
  // The start's clock time, not "n s ago", which would be stale between repaints.
  engineLine.textContent = `Engine ${e.version} · pid ${e.pid} · started at ${new Date(e.startedAt).toLocaleTimeString()}`;
};
store.subscribe((c) => {
  if (c === 'engine' || c === 'all') renderEngine();
});

/** The tab in view: an export's reply goes to the view whose button asked for it. */
let csvFrom: StudioTab = initial;

const memory = new MemoryView(store);
const scc = new SccView(store, readPalette());
const moments = new MomentsView(store);
const distribution = new DistributionView(store, readPalette());
const fit = new FitView(store, readPalette());
const strip = tabs(
  [
    { id: 'memory', label: 'Memory' },
    { id: 'scc', label: 'SCC decomposition' },
    { id: 'moments', label: 'Moments' },
    { id: 'distribution', label: 'Distribution' },
    { id: 'fit', label: 'Fit' },
  ],
  STUDIO_TABS.includes(initial) ? initial : 'memory',
  (id) => {
    const tab = id as StudioTab;
    distribution.setVisible(tab === 'distribution');
    csvFrom = tab;
    rememberTab(tab);
    post({ type: 'tab', tab });
  },
);
strip.views.get('memory')!.append(memory.element);
strip.views.get('scc')!.append(scc.element);
strip.views.get('moments')!.append(moments.element);
strip.views.get('distribution')!.append(distribution.element);
strip.views.get('fit')!.append(fit.element);
distribution.setVisible(initial === 'distribution');
onThemeChange(() => {
  const palette = readPalette();
  memory.setPalette(palette);
  scc.setPalette(palette);
  distribution.setPalette(palette);
  fit.setPalette(palette);
});
app.append(el('header', { class: 'studio-header' }, el('h1', {}, 'Phasic Studio'), engineLine), strip.element);

onHostMessage((m) => {
  switch (m.type) {
    case 'snapshot':
      distribution.setVisible(m.snapshot.tab === 'distribution');
      store.load(m.snapshot);
      fit.setData(m.snapshot.fitData ?? null, m.snapshot.fit ?? null);
      strip.select(m.snapshot.tab);
      csvFrom = m.snapshot.tab;
      rememberTab(m.snapshot.tab);
      return;
    case 'engine':
      return store.setEngine(m.engine);
    case 'samples':
      return store.addSamples(m.samples);
    case 'block':
      return store.upsertBlock(m.block);
    case 'marker':
      return store.addMarker(m.marker);
    case 'run':
      return store.setRun(m.run);
    case 'showTab':
      distribution.setVisible(m.tab === 'distribution');
      strip.select(m.tab);
      csvFrom = m.tab;
      rememberTab(m.tab);
      return;
    case 'evaluation':
      return moments.receive(m.requestId, m.result, m.error);
    case 'sccDetail':
      return scc.receiveDetail(m.requestId, m.detail, m.error);
    case 'distribution':
      return distribution.receive(m.requestId, m.results, m.error);
    case 'fitData':
      return fit.setData(m.data);
    case 'fitProgress':
      return fit.progress(m.fitId, m.step);
    case 'fitResult':
      return fit.receive(m.fitId, m.result, m.cancelled === true, m.error);
    case 'exported':
      // A CSV export from the Fit tab reports there; the Distribution view's otherwise.
      if (m.format === 'csv' && csvFrom === 'fit') return fit.exported(m.path, m.error);
      return m.format === 'png' || m.format === 'csv'
        ? distribution.exported(m.path, m.error)
        : scc.exported(m.path, m.error);
  }
});

post({ type: 'ready' });
