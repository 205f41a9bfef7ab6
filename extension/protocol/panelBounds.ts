// How many block bars and markers the Studio panel keeps: the host's buffer
// (host/panel/buffer.ts) and the page's store (webview/store.ts) hold the same
// record, so they drop the oldest entries at the same counts. (Samples are bounded
// by min/max thinning instead, protocol/thinning.ts, at each side's own capacity.)
// Pure: the webview bundle imports it.
export const MAX_PANEL_BLOCKS = 20_000;
export const MAX_PANEL_MARKERS = 2_000;
