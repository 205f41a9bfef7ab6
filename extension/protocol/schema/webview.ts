// The messages between the extension host and the Phasic Studio webview, declared
// once: protocol/webview.ts infers their types from these schemas, the host checks
// what the page posts with `webviewMessage` (a browser page: untrusted input) and
// the page checks what the host posts with `hostMessage` (a message that does not
// match is ignored rather than half-drawn). Engine shapes are the ones of
// schema/engine.ts. The webview bundle imports this file: no Node or vscode imports.
import * as v from 'valibot';
import { count, issueAt, list, names, nameRecord, nonNeg, num, obj, oneOf, str, tagged } from './base';
import {
  categoryBytes,
  decomposition,
  distributionResult,
  engineInfo,
  evaluateResult,
  fitResult,
  fitStep,
  paramSpec,
  runSummary,
  sccDetail,
  spectrum,
} from './engine';

export const STUDIO_TABS = ['memory', 'scc', 'moments', 'distribution', 'fit'] as const;
export const MARKER_KINDS = ['runStart', 'runEnd', 'cancel', 'restart', 'clear'] as const;

/** Largest SVG the host accepts for export (a 2,000-SCC view is ~1 MB). */
export const MAX_EXPORT_SVG_CHARS = 32 * 1024 * 1024;

/** Largest PNG export, as its data: URL (two charts at 4k × 2k are a few MB). */
export const MAX_EXPORT_PNG_CHARS = 24 * 1024 * 1024;
/** Largest CSV export (64 rewards × 10,000 points of full-precision numbers). */
export const MAX_EXPORT_CSV_CHARS = 32 * 1024 * 1024;
/** Rewards one distribution request may ask for at once. */
export const MAX_DISTRIBUTION_REWARDS = 64;
/** What an export reply is for: absent for the SCC view's SVG. */
export const EXPORT_FORMATS = ['svg', 'png', 'csv'] as const;

const tab = oneOf(STUDIO_TABS);

/** What the panel shows about the model a run belongs to. */
export const panelModel = obj({
  uri: str(4096),
  name: str(200),
  params: list(paramSpec),
});

/** One sample of the memory timeline, on the timeline clock. */
export const timelineSample = obj({ t: num, accounted: categoryBytes, rss: nonNeg });

export const timelineBlock = obj({
  scc: count,
  vertices: count,
  bytes: nonNeg,
  created: num,
  /** null while the subgraph is alive. */
  freed: v.nullable(num),
});

export const timelineMarker = obj({
  kind: oneOf(MARKER_KINDS),
  t: num,
  label: v.optional(str(200)),
  /** Clear Caches: the bytes it returned. */
  freedBytes: v.optional(nonNeg),
});

/** Host-computed position of one SCC in the condensation drawing. */
export const sccNodeLayout = obj({ id: count, layer: count, x: num, y: num, r: nonNeg });

export const sccLayout = obj({ nodes: list(sccNodeLayout), width: nonNeg, height: nonNeg, layers: count });

/** The parts of a run the panel draws (the run result, minus what it never shows). */
export const panelRun = v.pipe(
  obj({ model: panelModel, result: runSummary, decomposition, layout: sccLayout }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const n = dataset.value.decomposition.sccs.length;
    const nodes = dataset.value.layout.nodes;
    if (nodes.length !== n || nodes.some((node, i) => node.id !== i))
      issueAt(addIssue, ['layout', 'nodes'], `one node per SCC, in id order (${n})`);
  }),
);

/** The data the Fit view fits: a `.fs` file of the workspace, as the engine read it, and the model to fit. */
export const fitData = obj({
  /** The file's name and workspace-relative path, for display. */
  name: str(4096),
  path: str(4096),
  /** The model to fit (its run is the panel's current run when the fit starts). */
  modelUri: str(4096),
  /** The run made for the data (`RunResult.traceKey`): the fit's constants are that run's. */
  traceKey: str(200),
  spectrum,
});

/** Longest error text the page takes (a longer one would make it drop the whole message). */
export const MAX_ERROR_CHARS = 4096;

/** Parameters one fit may estimate at once (the engine's limit too). */
export const MAX_FIT_PARAMS = 64;

/** What the page asks a fit for (the `fit` message without its type and id). */
const fitRequestEntries = {
  sfsReward: str(200),
  fit: names(MAX_FIT_PARAMS, 'parameter names'),
  /** Start values of the fitted parameters. */
  start: nameRecord(num),
  /** Values of every parameter (the fixed ones stay there). */
  params: nameRecord(num),
};

export const FIT_STATUSES = ['running', 'done', 'cancelled', 'failed'] as const;

/**
 * The newest fit the page asked for, as the host keeps it: replayed after `ready`, so
 * a page reloaded (or hidden and shown again) mid-fit shows the fit still running with
 * the steps so far, and one that ended while the page was away shows its outcome.
 */
export const fitRecord = v.pipe(
  obj({
    fitId: count,
    request: obj(fitRequestEntries),
    status: oneOf(FIT_STATUSES),
    /** The optimizer's steps notified so far, in order. */
    steps: list(fitStep),
    /** With status `done`. */
    result: v.optional(fitResult),
    /** With status `failed`: why. */
    error: v.optional(str(MAX_ERROR_CHARS)),
  }),
  v.check(
    (f) => (f.status === 'done') === (f.result !== undefined) && (f.status === 'failed') === (f.error !== undefined),
    'a result exactly when done, an error exactly when failed',
  ),
);

/** Everything the panel has seen, sent once after each `ready`. */
export const studioSnapshot = obj({
  tab,
  engine: v.nullable(engineInfo),
  samples: list(timelineSample),
  blocks: list(timelineBlock),
  markers: list(timelineMarker),
  run: v.nullable(panelRun),
  /** The data of the Fit view, once a fit was asked for. */
  fitData: v.optional(v.nullable(fitData)),
  /** The newest fit of that data, running or ended. */
  fit: v.optional(v.nullable(fitRecord)),
});

const error = v.optional(str(MAX_ERROR_CHARS));

export const hostMessage = tagged(
  {
    snapshot: obj({ type: v.literal('snapshot'), snapshot: studioSnapshot }),
    engine: obj({ type: v.literal('engine'), engine: engineInfo }),
    samples: obj({ type: v.literal('samples'), samples: list(timelineSample) }),
    block: obj({ type: v.literal('block'), block: timelineBlock }),
    marker: obj({ type: v.literal('marker'), marker: timelineMarker }),
    run: obj({ type: v.literal('run'), run: panelRun }),
    evaluation: v.pipe(
      obj({ type: v.literal('evaluation'), requestId: count, result: v.optional(evaluateResult), error }),
      v.check((m) => m.result !== undefined || m.error !== undefined, 'a result or an error'),
    ),
    sccDetail: v.pipe(
      obj({ type: v.literal('sccDetail'), requestId: count, detail: v.optional(sccDetail), error }),
      v.check((m) => m.detail !== undefined || m.error !== undefined, 'a detail or an error'),
    ),
    distribution: v.pipe(
      obj({
        type: v.literal('distribution'),
        requestId: count,
        results: v.optional(list(distributionResult, MAX_DISTRIBUTION_REWARDS)),
        error,
      }),
      v.check((m) => m.results !== undefined || m.error !== undefined, 'results or an error'),
    ),
    showTab: obj({ type: v.literal('showTab'), tab }),
    fitData: obj({ type: v.literal('fitData'), data: fitData }),
    fitProgress: obj({ type: v.literal('fitProgress'), fitId: count, step: fitStep }),
    fitResult: v.pipe(
      obj({
        type: v.literal('fitResult'),
        fitId: count,
        result: v.optional(fitResult),
        /** The fit stopped at the user's Cancel (no result, no error). */
        cancelled: v.optional(v.literal(true)),
        error,
      }),
      v.check(
        (m) => m.result !== undefined || m.error !== undefined || m.cancelled === true,
        'a result, an error or a cancel',
      ),
    ),
    exported: obj({
      type: v.literal('exported'),
      format: v.optional(oneOf(EXPORT_FORMATS)),
      path: v.optional(str(4096)),
      error,
    }),
  },
  'a host message type',
);

export const webviewMessage = tagged(
  {
    ready: obj({ type: v.literal('ready') }),
    tab: obj({ type: v.literal('tab'), tab }),
    evaluate: obj({ type: v.literal('evaluate'), requestId: count, traceKey: str(200), params: nameRecord(num) }),
    sccDetail: obj({ type: v.literal('sccDetail'), requestId: count, traceKey: str(200), scc: count }),
    exportSvg: obj({
      type: v.literal('exportSvg'),
      svg: v.pipe(
        str(MAX_EXPORT_SVG_CHARS),
        v.check((svg) => /^<svg[\s>]/.test(svg), 'an <svg> document'),
      ),
    }),
    distribution: obj({
      type: v.literal('distribution'),
      requestId: count,
      traceKey: str(200),
      rewards: names(MAX_DISTRIBUTION_REWARDS, 'reward names'),
      params: nameRecord(num),
    }),
    exportPng: obj({
      type: v.literal('exportPng'),
      png: v.pipe(
        str(MAX_EXPORT_PNG_CHARS),
        v.check((png) => /^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/.test(png), 'a data:image/png;base64 URL'),
      ),
    }),
    exportCsv: obj({
      type: v.literal('exportCsv'),
      csv: v.pipe(
        str(MAX_EXPORT_CSV_CHARS),
        v.check((csv) => csv.length > 0 && !csv.includes('\0'), 'CSV text'),
      ),
    }),
    fit: obj({ type: v.literal('fit'), fitId: count, ...fitRequestEntries }),
    fitCancel: obj({ type: v.literal('fitCancel'), fitId: count }),
  },
  'ready | tab | evaluate | sccDetail | exportSvg | distribution | exportPng | exportCsv | fit | fitCancel',
);
