// The charts' hover read-out: one absolutely placed box in the chart's frame, beside
// the pointer and inside the frame, filled by the chart with what is under it.
import { el } from '../dom';

export class Tooltip {
  readonly element: HTMLDivElement;

  /** `live`: whether a screen reader announces changes (off where hovering changes it at every move). */
  constructor(live = true) {
    this.element = el('div', { class: 'tooltip', role: 'status', ...(live ? {} : { 'aria-live': 'off' }) });
  }

  hide(): void {
    this.element.hidden = true;
  }

  /**
   * Shows `content` beside the point (x, y) of a frame `width` wide and, when given,
   * `height` high: to the right of the pointer unless that would overflow the frame,
   * then to its left; vertically `dy` from the pointer, kept inside the frame.
   */
  show(
    content: Array<Node | string>,
    x: number,
    y: number,
    frame: { width: number; height?: number; dy: number },
  ): void {
    this.element.replaceChildren(...content);
    this.element.hidden = false;
    const w = this.element.offsetWidth;
    let top = Math.max(0, y + frame.dy);
    if (frame.height !== undefined) top = Math.min(frame.height - this.element.offsetHeight, top);
    this.element.style.left = `${x + 14 + w > frame.width ? x - 14 - w : x + 14}px`;
    this.element.style.top = `${top}px`;
  }
}
