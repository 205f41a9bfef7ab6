// Colours come only from VS Code's theme variables. Canvas drawing cannot use
// var(), so the values are read from the computed style, and re-read when VS Code
// switches theme (it rewrites the variables and the body's vscode-light /
// vscode-dark / vscode-high-contrast class).
import type { MemoryCategory, TraceSource } from '../extension/protocol/engine';

export interface Palette {
  foreground: string;
  muted: string;
  background: string;
  grid: string;
  border: string;
  focus: string;
  highContrast: boolean;
  category: Record<MemoryCategory, string>;
  rss: string;
  source: Record<TraceSource, string>;
  alive: string;
  marker: string;
  selection: string;
  /** One colour per curve of an overlay chart (the Distribution view's rewards), in order. */
  series: string[];
}

function read(style: CSSStyleDeclaration, name: string, fallbackVar?: string): string {
  const v = style.getPropertyValue(name).trim();
  if (v || !fallbackVar) return v;
  return style.getPropertyValue(fallbackVar).trim();
}

export function readPalette(): Palette {
  const style = getComputedStyle(document.body);
  const fg = read(style, '--vscode-foreground', '--vscode-editor-foreground');
  const hc =
    document.body.classList.contains('vscode-high-contrast') ||
    document.body.classList.contains('vscode-high-contrast-light');
  return {
    foreground: fg,
    muted: read(style, '--vscode-descriptionForeground', '--vscode-foreground'),
    background: read(style, '--vscode-editor-background', '--vscode-sideBar-background'),
    grid:
      read(style, '--vscode-editorIndentGuide-background', '--vscode-panel-border') ||
      read(style, '--vscode-widget-border'),
    border: read(style, '--vscode-contrastBorder') || read(style, '--vscode-panel-border', '--vscode-widget-border'),
    focus: read(style, '--vscode-focusBorder'),
    highContrast: hc,
    category: {
      graph: read(style, '--vscode-charts-blue'),
      subgraphs: read(style, '--vscode-charts-orange'),
      traces: read(style, '--vscode-charts-green'),
      cache: read(style, '--vscode-charts-purple'),
      evaluation: read(style, '--vscode-charts-yellow'),
      workspace: read(style, '--vscode-charts-foreground', '--vscode-descriptionForeground'),
    },
    rss: read(style, '--vscode-charts-red'),
    source: {
      recorded: read(style, '--vscode-charts-orange'),
      memory: read(style, '--vscode-charts-green'),
      disk: read(style, '--vscode-charts-blue'),
      trivial: read(style, '--vscode-disabledForeground', '--vscode-descriptionForeground'),
    },
    alive: read(style, '--vscode-editorWarning-foreground', '--vscode-charts-red'),
    marker: read(style, '--vscode-editorLineNumber-foreground', '--vscode-descriptionForeground'),
    selection: read(style, '--vscode-focusBorder', '--vscode-charts-blue'),
    series: ['blue', 'orange', 'green', 'purple', 'red', 'yellow'].map((c) => read(style, `--vscode-charts-${c}`)),
  };
}

/** Calls `repaint` after every theme switch. */
export function onThemeChange(repaint: () => void): void {
  let last = document.body.className;
  new MutationObserver(() => {
    if (document.body.className === last) return;
    last = document.body.className;
    repaint();
  }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
