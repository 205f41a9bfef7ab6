// The only module that touches @vscode/webview-ui-toolkit (1.4.0, deprecated
// upstream; see docs/decisions.md). Views build controls through these functions,
// so replacing the toolkit later means rewriting this file alone.
import {
  provideVSCodeDesignSystem,
  vsCodeButton,
  vsCodeCheckbox,
  vsCodePanels,
  vsCodePanelTab,
  vsCodePanelView,
  vsCodeTextField,
} from '@vscode/webview-ui-toolkit';

let registered = false;

/** Defines the custom elements once; they read the --vscode-* theme variables themselves. */
export function registerToolkit(): void {
  if (registered) return;
  registered = true;
  provideVSCodeDesignSystem().register(
    vsCodeButton(),
    vsCodeCheckbox(),
    vsCodePanels(),
    vsCodePanelTab(),
    vsCodePanelView(),
    vsCodeTextField(),
  );
}

export interface ButtonOptions {
  appearance?: 'primary' | 'secondary' | 'icon';
  /** Accessible name, required when the visible label is a symbol. */
  ariaLabel?: string;
  title?: string;
}

export function button(label: string, onClick: () => void, options: ButtonOptions = {}): HTMLElement {
  const b = document.createElement('vscode-button');
  b.textContent = label;
  b.setAttribute('appearance', options.appearance ?? 'secondary');
  if (options.ariaLabel) b.setAttribute('aria-label', options.ariaLabel);
  if (options.title) b.title = options.title;
  b.addEventListener('click', onClick);
  return b;
}

export interface Checkbox {
  element: HTMLElement;
  get checked(): boolean;
  set checked(value: boolean);
}

export function checkbox(label: string, checked: boolean, onChange: (checked: boolean) => void): Checkbox {
  const c = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean };
  c.textContent = label;
  c.checked = checked;
  c.addEventListener('change', () => onChange(c.checked));
  return {
    element: c,
    get checked() {
      return c.checked;
    },
    set checked(value: boolean) {
      c.checked = value;
    },
  };
}

export interface NumberField {
  element: HTMLElement;
  get value(): string;
  set value(v: string);
  setInvalid(message: string | null): void;
}

export function numberField(label: string, value: number, onInput: (text: string) => void): NumberField {
  const f = document.createElement('vscode-text-field') as HTMLElement & { value: string };
  f.setAttribute('type', 'text');
  f.setAttribute('inputmode', 'decimal');
  f.textContent = label;
  f.value = String(value);
  f.addEventListener('input', () => onInput(f.value));
  return {
    element: f,
    get value() {
      return f.value;
    },
    set value(v: string) {
      f.value = v;
    },
    setInvalid(message: string | null) {
      if (message) {
        f.setAttribute('aria-invalid', 'true');
        f.title = message;
      } else {
        f.removeAttribute('aria-invalid');
        f.removeAttribute('title');
      }
    },
  };
}

export interface Tabs {
  element: HTMLElement;
  views: Map<string, HTMLElement>;
  select(id: string): void;
}

/** A tab strip with one view per tab; keyboard arrows move between tabs (toolkit behaviour). */
export function tabs(
  specs: Array<{ id: string; label: string }>,
  initial: string,
  onChange: (id: string) => void,
): Tabs {
  const panels = document.createElement('vscode-panels') as HTMLElement & { activeid: string };
  const views = new Map<string, HTMLElement>();
  for (const s of specs) {
    const tab = document.createElement('vscode-panel-tab');
    tab.id = `tab-${s.id}`;
    tab.textContent = s.label;
    panels.appendChild(tab);
  }
  for (const s of specs) {
    const view = document.createElement('vscode-panel-view');
    view.id = `view-${s.id}`;
    views.set(s.id, view);
    panels.appendChild(view);
  }
  panels.setAttribute('activeid', `tab-${initial}`);
  panels.addEventListener('change', (e) => {
    if (e.target !== panels) return;
    const id = panels.activeid?.replace(/^tab-/, '');
    if (id) onChange(id);
  });
  return {
    element: panels,
    views,
    select(id: string) {
      panels.activeid = `tab-${id}`;
      panels.setAttribute('activeid', `tab-${id}`);
    },
  };
}
