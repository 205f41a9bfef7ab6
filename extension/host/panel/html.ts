// The Studio panel's page. Pure (no `vscode` import) so the Chromium tests load the
// very page VS Code shows, with the same content security policy: nothing but the
// bundle's own script (by nonce) and stylesheet, no inline code, no eval, no remote
// content, images only from the extension or data: URLs (SVG export previews).
// The csp-nonce meta is where the toolkit's FAST runtime finds the nonce for the one
// <style> element it inserts (its focus-visible feature probe).
import { randomBytes } from 'node:crypto';
import type { StudioTab } from '../../protocol/webview';

export interface PageSources {
  /** `webview.cspSource`: the origin VS Code serves extension files from. */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  nonce: string;
  tab: StudioTab;
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64url');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function renderStudioPage(p: PageSources): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(p.cspSource, p.nonce))}">
<meta property="csp-nonce" content="${escapeAttr(p.nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(p.styleUri)}" nonce="${escapeAttr(p.nonce)}">
<title>Phasic Studio</title>
</head>
<body data-initial-tab="${escapeAttr(p.tab)}">
<div id="app" aria-live="off"></div>
<script nonce="${escapeAttr(p.nonce)}" src="${escapeAttr(p.scriptUri)}"></script>
</body>
</html>
`;
}
