// The page's side of the host channel: every host message is validated before any
// view sees it; malformed ones are logged and dropped.
import { parseHostMessage, type HostMessage, type StudioTab, type WebviewMessage } from '../extension/protocol/webview';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

export function post(m: WebviewMessage): void {
  api.postMessage(m);
}

/** The tab to restore after a window reload (read by the host's panel serializer). */
export function rememberTab(tab: StudioTab): void {
  api.setState({ tab });
}

export function onHostMessage(handle: (m: HostMessage) => void): void {
  window.addEventListener('message', (event: MessageEvent) => {
    const parsed = parseHostMessage(event.data);
    if (!parsed.ok) {
      console.warn(`Phasic Studio: ignored a malformed host message (${parsed.error})`);
      return;
    }
    handle(parsed.value);
  });
}

let requestCounter = 0;

/** Ids that pair a request with its reply; replies to superseded requests are dropped by the views. */
export function nextRequestId(): number {
  return ++requestCounter;
}

/** Ids up to `id` are taken (a fit the host replayed after a reload): later requests get higher ones. */
export function reserveRequestIds(id: number): void {
  requestCounter = Math.max(requestCounter, id);
}
