// Pan and zoom for the charts: the state of a view (a time window for the memory
// timeline, a scaled and translated plane for the SCC graph) and the one set of
// input handlers that moves it: the wheel zooms about the pointer, a drag pans, a
// press without movement is a click, and keys map to actions.
//
// The state classes are pure (the tests drive them in Node); `attachPointer` and
// `attachKeys` bind them to a canvas.

export interface Span {
  start: number;
  end: number;
}

/**
 * A window on a time axis: either the whole extent of the data (`extent()`, read
 * afresh each time, so it grows with live data) or a fixed span the user zoomed or
 * panned to.
 */
export class TimeWindow {
  private fixed: Span | null = null;

  /** `minSpan`: the narrowest window, in the axis's unit. */
  constructor(
    private readonly extent: () => Span,
    private readonly minSpan: number,
  ) {}

  /** The visible span. */
  range(): Span {
    return this.fixed ?? this.extent();
  }

  /** True once zoomed or panned away from the whole extent. */
  get isFixed(): boolean {
    return this.fixed !== null;
  }

  showAll(): void {
    this.fixed = null;
  }

  set(start: number, end: number): void {
    this.fixed = { start, end };
  }

  /**
   * Multiplies the span by `factor` (< 1 zooms in), keeping the time at `anchor`
   * (0 = left edge, 1 = right edge of the window) where it is on screen.
   */
  zoom(factor: number, anchor: number): void {
    const { start, end } = this.range();
    const span = Math.max(this.minSpan, (end - start) * factor);
    const at = start + anchor * (end - start);
    this.set(at - anchor * span, at - anchor * span + span);
  }

  /** Moves the window by `dt` (negative: back in time). */
  panBy(dt: number): void {
    const { start, end } = this.range();
    this.set(start + dt, end + dt);
  }
}

/** A plane shown at `scale` screen pixels per unit along x and `scale × aspect` along y, offset by (tx, ty). */
export class PlaneView {
  scale = 1;
  /** Vertical stretch of flat content (≥ 1); zooming keeps it. */
  aspect = 1;
  tx = 0;
  ty = 0;

  constructor(
    private readonly minScale: number,
    private readonly maxScale: number,
  ) {}

  toScreen(x: number, y: number): { x: number; y: number } {
    return { x: x * this.scale + this.tx, y: y * this.scale * this.aspect + this.ty };
  }

  toPlane(sx: number, sy: number): { x: number; y: number } {
    return { x: (sx - this.tx) / this.scale, y: (sy - this.ty) / (this.scale * this.aspect) };
  }

  /** Multiplies the scale by `factor` (within its bounds), keeping the screen point (cx, cy) fixed. */
  zoomAt(factor: number, cx: number, cy: number): void {
    const s = Math.min(this.maxScale, Math.max(this.minScale, this.scale * factor));
    this.tx = cx - ((cx - this.tx) * s) / this.scale;
    this.ty = cy - ((cy - this.ty) * s) / this.scale;
    this.scale = s;
  }
}

/** Screen pixels of wheel delta per e-fold of zoom. */
const WHEEL_PIXELS_PER_E = 500;

/** How much one wheel event magnifies (> 1 zooms in: the wheel rolled away from the user). */
export function wheelMagnification(deltaY: number): number {
  return Math.exp(-deltaY / WHEEL_PIXELS_PER_E);
}

export interface PointerHandlers {
  /** Pointer travel (|dx| + |dy|, px) below which a press is still a click, not a drag. */
  clickSlop: number;
  /** The wheel: magnify by `magnification` about the pointer at (x, y). */
  zoom(magnification: number, x: number, y: number): void;
  /** A press began: remember what the drag moves from. */
  dragStart(): void;
  /** The pointer moved (dx, dy) since the press, beyond the click slop. */
  drag(dx: number, dy: number): void;
  /** Released without moving beyond the slop. */
  click?(x: number, y: number): void;
  /** The pointer is at (x, y), pressed or not (called after `drag`). */
  hover(x: number, y: number): void;
  leave(): void;
}

/** Wheel, drag, click and hover on `target`, in the target's CSS pixels. */
export function attachPointer(target: HTMLElement, h: PointerHandlers): void {
  let press: { x: number; y: number; moved: boolean } | null = null;
  target.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      h.zoom(wheelMagnification(e.deltaY), e.offsetX, e.offsetY);
    },
    { passive: false },
  );
  target.addEventListener('pointerdown', (e) => {
    press = { x: e.clientX, y: e.clientY, moved: false };
    h.dragStart();
    target.setPointerCapture(e.pointerId);
  });
  target.addEventListener('pointermove', (e) => {
    if (press) {
      const dx = e.clientX - press.x;
      const dy = e.clientY - press.y;
      if (Math.abs(dx) + Math.abs(dy) > h.clickSlop) press.moved = true;
      if (press.moved) h.drag(dx, dy);
    }
    h.hover(e.offsetX, e.offsetY);
  });
  target.addEventListener('pointerup', (e) => {
    if (press && !press.moved) h.click?.(e.offsetX, e.offsetY);
    press = null;
  });
  target.addEventListener('pointerleave', () => h.leave());
}

/** Keys on a focused target: `action(key)` returns what to do, or nothing to let the key through. */
export function attachKeys(target: HTMLElement, action: (key: string) => (() => void) | undefined): void {
  target.addEventListener('keydown', (e) => {
    const run = action(e.key);
    if (run) {
      e.preventDefault();
      run();
    }
  });
}
