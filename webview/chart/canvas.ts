// Sizing of the charts' canvases: one CSS-pixel coordinate system for drawing, a
// backing store of CSS size × devicePixelRatio so lines stay sharp on high-density
// screens, and a redraw when the container changes size.

/** The font of axis labels and in-chart text: the editor's UI font, small. */
export function chartFont(): string {
  return `11px ${getComputedStyle(document.body).fontFamily}`;
}

/** The CSS width a chart draws at: its container's, at least 200 px (800 before the first layout). */
export function chartWidth(container: HTMLElement): number {
  return Math.max(200, container.clientWidth || 800);
}

/**
 * Gives `canvas` a backing store for `width` × `height` CSS pixels at the screen's
 * density (resized only when that changed: resizing clears it) and returns its
 * context, scaled so that drawing is in CSS pixels.
 */
export function sizeCanvas(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(width * dpr);
  const h = Math.round(height * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** Calls `onResize` whenever `element` changes size (and once when it is first laid out). */
export function watchSize(element: HTMLElement, onResize: () => void): void {
  new ResizeObserver(onResize).observe(element);
}
