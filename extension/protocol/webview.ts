// The messages between the extension host and the Phasic Studio webview. The types
// are inferred from the schemas of protocol/schema/webview.ts, and each side checks
// what it receives with the same schemas: the webview is a browser page (anything
// it posts is untrusted input to the host), and a host message that does not match
// is ignored by the webview rather than half-drawn. Documented in docs/webview.md.
//
// Time on the timeline is wall-clock epoch milliseconds: the host places each engine
// process's clock (`timeMs` since that process started) on it with the engine's
// start time, so samples of successive engine processes never overlap.
import type * as v from 'valibot';
import { type Parsed, parse } from './schema/base';
import * as s from './schema/webview';

export type { DistributionResult, FitResult, FitStep, SccDetail, SpectrumSummary } from './engine';
export type { EngineInfo as EngineBadge, ParamSpec as PanelParam } from './requests';
export type { Parsed } from './schema/base';
export {
  EXPORT_FORMATS,
  MARKER_KINDS,
  MAX_DISTRIBUTION_REWARDS,
  MAX_EXPORT_CSV_CHARS,
  MAX_EXPORT_PNG_CHARS,
  MAX_EXPORT_SVG_CHARS,
  MAX_ERROR_CHARS,
  MAX_FIT_PARAMS,
  STUDIO_TABS,
} from './schema/webview';

export const STUDIO_VIEW_TYPE = 'phasic.studio';

export type StudioTab = (typeof s.STUDIO_TABS)[number];
export type MarkerKind = (typeof s.MARKER_KINDS)[number];
export type ExportFormat = (typeof s.EXPORT_FORMATS)[number];
export type PanelModel = v.InferOutput<typeof s.panelModel>;
export type TimelineSample = v.InferOutput<typeof s.timelineSample>;
export type TimelineBlock = v.InferOutput<typeof s.timelineBlock>;
export type TimelineMarker = v.InferOutput<typeof s.timelineMarker>;
export type SccNodeLayout = v.InferOutput<typeof s.sccNodeLayout>;
export type SccLayout = v.InferOutput<typeof s.sccLayout>;
export type PanelRun = v.InferOutput<typeof s.panelRun>;
export type StudioSnapshot = v.InferOutput<typeof s.studioSnapshot>;
export type FitData = v.InferOutput<typeof s.fitData>;
export type FitRecord = v.InferOutput<typeof s.fitRecord>;
export type HostMessage = v.InferOutput<typeof s.hostMessage>;
export type WebviewMessage = v.InferOutput<typeof s.webviewMessage>;

/** Validates a message the webview posted; the host acts only on `ok` results. */
export function parseWebviewMessage(value: unknown): Parsed<WebviewMessage> {
  return parse(s.webviewMessage, value, '', 'message');
}

/** Validates a message from the host; the webview ignores (and logs) the rest. */
export function parseHostMessage(value: unknown): Parsed<HostMessage> {
  return parse(s.hostMessage, value, '', 'message');
}
