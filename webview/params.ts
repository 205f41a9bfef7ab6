// The parameter fields of the Moments and Distribution views. Both views show their
// own fields over the one state in the store (StudioStore.paramText): typing in
// either changes the store, and every form follows it, so the two views always
// compute at the same parameter values.
import { readDecimal, underflowMessage, underflowsToZero } from '../extension/protocol/format';
import type { PanelParam, PanelRun } from '../extension/protocol/webview';
import { el } from './dom';
import type { StudioStore } from './store';
import { button, numberField, type NumberField } from './toolkit';

function bounds(p: PanelParam): string {
  if (p.lo !== null && p.hi !== null) return `${p.lo} – ${p.hi}`;
  if (p.lo !== null) return `≥ ${p.lo}`;
  if (p.hi !== null) return `≤ ${p.hi}`;
  return 'any real';
}

/** The value typed in a field, or why it cannot be used. */
export function parseParam(text: string, p: PanelParam): { value: number } | { error: string } {
  const value = readDecimal(text);
  if (value === undefined || !Number.isFinite(value)) return { error: `${p.name} must be a number` };
  if (underflowsToZero(text)) return { error: `${p.name}: ${underflowMessage(text)}` };
  if (p.lo !== null && value < p.lo) return { error: `${p.name} must be ≥ ${p.lo}` };
  if (p.hi !== null && value > p.hi) return { error: `${p.name} must be ≤ ${p.hi}` };
  return { value };
}

export type ParamValues = { params: Record<string, number> } | { errors: string[] };

export class ParamForm {
  readonly element = el('div', { class: 'params', role: 'group', 'aria-label': 'Parameters' });
  private fields = new Map<string, NumberField>();
  private run: PanelRun | null = null;

  /** `changed` runs after every edit, in whichever view it was made. */
  constructor(
    private readonly store: StudioStore,
    changed: () => void,
  ) {
    store.subscribe((c) => {
      if ((c === 'run' || c === 'all') && store.run !== this.run) this.build(store.run);
      if (c === 'params') {
        for (const [name, field] of this.fields) {
          const text = store.paramText[name];
          if (text !== undefined && field.value !== text) field.value = text;
        }
        changed();
      }
    });
  }

  private build(run: PanelRun | null): void {
    this.run = run;
    this.fields.clear();
    this.element.replaceChildren();
    if (!run) return;
    for (const p of run.model.params) {
      const field = numberField(`${p.name} (${bounds(p)})`, p.default, (text) => this.store.setParam(p.name, text));
      field.value = this.store.paramText[p.name] ?? String(p.default);
      field.element.setAttribute('data-param', p.name);
      this.fields.set(p.name, field);
      this.element.append(field.element);
    }
    if (run.model.params.length > 0) {
      this.element.append(button('Reset to defaults', () => this.store.resetParamsToDefaults()));
    } else {
      this.element.append(el('p', { class: 'muted' }, 'This model has no parameters.'));
    }
  }

  /** The values of the store's fields, each checked against its bounds (and flagged in this form). */
  read(): ParamValues {
    // No prototype: a parameter named `__proto__` must be a key of the message.
    const params = Object.create(null) as Record<string, number>;
    const errors: string[] = [];
    for (const p of this.run?.model.params ?? []) {
      const parsed = parseParam(this.store.paramText[p.name] ?? '', p);
      const field = this.fields.get(p.name);
      if ('error' in parsed) {
        field?.setInvalid(parsed.error);
        errors.push(parsed.error);
      } else {
        field?.setInvalid(null);
        params[p.name] = parsed.value;
      }
    }
    return errors.length ? { errors } : { params };
  }
}
