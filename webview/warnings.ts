// How a view says that what it shows is in doubt: one list of warnings under its status
// (the Fit view's doubts about its fit, the Moments view's about its values), and a mark
// on each value a warning names, so the number is never read without the doubt beside
// it (decision 112).
import { el } from './dom';

/** A list of "⚠ message" items, hidden while there is none; announced when it changes. */
export class WarningList {
  readonly element: HTMLUListElement;

  /** `extraClass` names the view's list for its styles and tests; `label` is read out. */
  constructor(extraClass: string, label: string) {
    this.element = el('ul', { class: `warnings ${extraClass}`, role: 'alert', 'aria-label': label });
    this.element.hidden = true;
  }

  show(warnings: string[]): void {
    this.element.hidden = warnings.length === 0;
    this.element.replaceChildren(...warnings.map((w) => el('li', {}, `⚠ ${w}`)));
  }
}

/**
 * A value shown as approximate: "≈ text ⚠", with `doubt` (what the warning says about
 * it) as its hover text and accessible name, or the plain text when there is no doubt.
 */
export function markDoubt(text: string, doubt: string | undefined): string | HTMLElement {
  if (doubt === undefined) return text;
  return el('span', { class: 'imprecise', title: doubt, 'aria-label': `${text}, imprecise: ${doubt}` }, `≈ ${text} ⚠`);
}
