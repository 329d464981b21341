/**
 * Export a chart as SVG or PNG. A chart is a stack of layers inside one container: `<canvas>`
 * elements (dense lines) and top-level `<svg>` elements (axes, legend, markers), painted in
 * document order. Both exports compose every layer at its on-screen position:
 *
 * - PNG: a canvas of the container's size × devicePixelRatio, filled with the page
 *   background; canvases are drawn as they are, each SVG is serialized (computed styles
 *   inlined, so CSS variables and classes survive) and drawn over them as an image.
 * - SVG: one `<svg>` with each layer in order; a canvas becomes an `<image>` holding its
 *   PNG data URL at device resolution. That is exactly what was drawn (the smoothed and
 *   downsampled lines), keeps the exporter independent of any chart's data model, and
 *   stays small; the price is that the data lines are raster inside the vector file.
 *
 * Browser-only (DOM); nothing runs at import time.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';
/** Inherited properties copied from computed style where they differ from the parent's. */
const INHERITED = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-dasharray',
  'stroke-linecap',
  'stroke-linejoin',
  'visibility',
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'text-anchor',
  'paint-order',
  'shape-rendering',
  'font-variant-numeric',
] as const;
/** Non-inherited properties copied where they are not the initial value. */
const OWN: Record<string, string> = {
  opacity: '1',
  display: 'inline',
  'dominant-baseline': 'auto',
};

type Layer = { el: HTMLCanvasElement | SVGSVGElement; x: number; y: number; w: number; h: number };

/**
 * The painted layers in paint order, positioned within their union box. `container` may be a
 * chart's own stack (`.lt-chart-stack`) or any wrapper around one chart (a title row or
 * buttons beside it are left out: only the chart's canvas and SVG layers are exported).
 */
function layersOf(container: HTMLElement): { layers: Layer[]; width: number; height: number } {
  const root = container.matches('.lt-chart-stack')
    ? container
    : (container.querySelector<HTMLElement>('.lt-chart-stack') ?? container);
  const found: { el: Layer['el']; r: DOMRect }[] = [];
  for (const el of root.querySelectorAll<HTMLCanvasElement | SVGSVGElement>('canvas, svg')) {
    if (el.parentElement?.closest('svg')) continue; // nested <svg> is part of its parent layer
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) found.push({ el, r });
  }
  if (found.length === 0) return { layers: [], width: 1, height: 1 };
  const left = Math.min(...found.map((f) => f.r.left));
  const top = Math.min(...found.map((f) => f.r.top));
  const width = Math.ceil(Math.max(...found.map((f) => f.r.right)) - left);
  const height = Math.ceil(Math.max(...found.map((f) => f.r.bottom)) - top);
  return {
    layers: found.map(({ el, r }) => ({
      el,
      x: r.left - left,
      y: r.top - top,
      w: r.width,
      h: r.height,
    })),
    width,
    height,
  };
}

/**
 * A deep clone of `svg` with computed styles inlined (so classes and CSS variables survive
 * outside the page) and transient parts (`data-export="skip"`, e.g. the hover readout) removed.
 */
function inlineClone(svg: SVGSVGElement): SVGSVGElement {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const src = [svg, ...svg.querySelectorAll('*')];
  const dst = [clone, ...clone.querySelectorAll('*')];
  const computed = new Map<Element, CSSStyleDeclaration>(
    src.map((el) => [el, getComputedStyle(el)]),
  );
  for (let i = 0; i < src.length; i++) {
    const cs = computed.get(src[i])!;
    const parent = i === 0 ? undefined : computed.get(src[i].parentElement!);
    const style: string[] = [];
    for (const p of INHERITED) {
      const v = cs.getPropertyValue(p);
      if (!parent || parent.getPropertyValue(p) !== v) style.push(`${p}:${v}`);
    }
    for (const [p, initial] of Object.entries(OWN)) {
      const v = cs.getPropertyValue(p);
      if (v !== initial && !(i === 0 && p === 'display')) style.push(`${p}:${v}`);
    }
    dst[i].setAttribute('style', style.join(';'));
    dst[i].removeAttribute('class');
    dst[i].removeAttribute('tabindex');
  }
  for (const el of clone.querySelectorAll('[data-export="skip"]')) el.remove();
  // Shown on hover only (a marker's label): an image has no hover, so it shows them all.
  for (const el of clone.querySelectorAll<SVGElement>('[data-export="show"]'))
    el.style.removeProperty('display');
  return clone;
}

/** The first non-transparent background colour from `el` upwards (white if none). */
function backgroundOf(el: Element | null): string {
  for (; el; el = el.parentElement) {
    const bg = getComputedStyle(el).backgroundColor;
    if (bg && bg !== 'transparent' && !/rgba\(.*,\s*0\)$/.test(bg)) return bg;
  }
  return '#ffffff';
}

function serialize(svg: SVGSVGElement, w: number, h: number): string {
  const clone = inlineClone(svg);
  clone.setAttribute('xmlns', SVG_NS);
  clone.setAttribute('width', String(w));
  clone.setAttribute('height', String(h));
  return new XMLSerializer().serializeToString(clone);
}

/** The chart as one standalone SVG document (see the module comment for how). */
export function chartToSvgString(container: HTMLElement): string {
  const { layers, width, height } = layersOf(container);
  const doc = document.createElementNS(SVG_NS, 'svg');
  doc.setAttribute('xmlns', SVG_NS);
  doc.setAttribute('xmlns:xlink', XLINK_NS);
  doc.setAttribute('width', String(width));
  doc.setAttribute('height', String(height));
  doc.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const bg = document.createElementNS(SVG_NS, 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', backgroundOf(container));
  doc.append(bg);
  for (const l of layers) {
    if (l.el instanceof HTMLCanvasElement) {
      const img = document.createElementNS(SVG_NS, 'image');
      for (const [k, v] of [
        ['x', l.x],
        ['y', l.y],
        ['width', l.w],
        ['height', l.h],
      ] as const)
        img.setAttribute(k, String(v));
      img.setAttribute('href', l.el.toDataURL('image/png'));
      doc.append(img);
    } else {
      const g = document.createElementNS(SVG_NS, 'svg');
      for (const [k, v] of [
        ['x', l.x],
        ['y', l.y],
        ['width', l.w],
        ['height', l.h],
      ] as const)
        g.setAttribute(k, String(v));
      const clone = inlineClone(l.el);
      if (clone.getAttribute('viewBox')) g.setAttribute('viewBox', clone.getAttribute('viewBox')!);
      g.setAttribute('style', clone.getAttribute('style') ?? '');
      g.append(...clone.childNodes);
      doc.append(g);
    }
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(doc)}`;
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('could not render the chart SVG'));
    img.src = url;
  });
}

/** The chart as a PNG blob at `scale` (default devicePixelRatio) pixels per CSS pixel. */
export async function chartToPngBlob(
  container: HTMLElement,
  scale = window.devicePixelRatio || 1,
): Promise<Blob> {
  const { layers, width, height } = layersOf(container);
  const out = document.createElement('canvas');
  out.width = Math.round(width * scale);
  out.height = Math.round(height * scale);
  const ctx = out.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas context');
  ctx.scale(scale, scale);
  ctx.fillStyle = backgroundOf(container);
  ctx.fillRect(0, 0, width, height);
  for (const l of layers) {
    if (l.el instanceof HTMLCanvasElement) {
      ctx.drawImage(l.el, l.x, l.y, l.w, l.h);
    } else {
      const url = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(serialize(l.el, l.w, l.h))}`;
      ctx.drawImage(await loadImage(url), l.x, l.y, l.w, l.h);
    }
  }
  return new Promise((resolve, reject) =>
    out.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'),
  );
}

function download(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const withExt = (name: string, ext: string): string =>
  name.toLowerCase().endsWith(`.${ext}`) ? name : `${name}.${ext}`;

/** Downloads the chart in `container` as `fileName` (.svg added if missing). */
export function exportSvg(container: HTMLElement, fileName: string): void {
  download(
    new Blob([chartToSvgString(container)], { type: 'image/svg+xml' }),
    withExt(fileName, 'svg'),
  );
}

/** Downloads the chart in `container` as a PNG at devicePixelRatio (.png added if missing). */
export async function exportPng(container: HTMLElement, fileName: string): Promise<void> {
  download(await chartToPngBlob(container), withExt(fileName, 'png'));
}
