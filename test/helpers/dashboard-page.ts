import { type Browser, chromium, type Page } from 'playwright-core';

/**
 * The parts of the page that the callbacks given to page.evaluate touch. Those callbacks run in the
 * browser, but the tests compile without the DOM library (it would retype the Node code): they reach the
 * page through `globalThis as unknown as InPage`, an assertion erased before the function is sent.
 */
export interface InPage {
  citytel: { map: PageMap };
  document: { createElement(tag: 'canvas'): PageCanvas };
}
export interface PageMap {
  getCanvas(): PageCanvas;
  getContainer(): { dataset: Record<string, string | undefined> };
  once(event: string, listener: () => void): void;
  triggerRepaint(): void;
  queryRenderedFeatures(options: { layers: string[] }): Array<{ properties: Record<string, unknown> }>;
  jumpTo(options: { center: [number, number]; zoom: number }): void;
  project(lonLat: [number, number]): { x: number; y: number };
  getZoom(): number;
}
interface PageCanvas {
  width: number;
  height: number;
  getBoundingClientRect(): { left: number; top: number };
  getContext(kind: '2d'): {
    drawImage(source: PageCanvas, x: number, y: number): void;
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  };
}

/**
 * Debian's Chromium, headless, through playwright-core. No GPU here: WebGL (which MapLibre needs) runs on
 * SwiftShader, Chromium's software renderer, which recent versions enable only when asked. Not with
 * `--disable-gpu`: the software compositor it selects then shows parts of a WebGL canvas stale after the
 * map moves (seen on a phone-sized page: the GL buffer held the cells, the screen did not).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  });
}

/** Collects what goes wrong in a page: uncaught errors, so a test can say the page ran clean. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

export interface CanvasStats {
  width: number;
  height: number;
  /** Pixels that differ from the plain background colour. */
  drawn: number;
  /** Distinct colours among them (coarsely quantised). */
  colours: number;
}

/**
 * What the map's WebGL canvas holds right after a frame: it is copied onto a 2D canvas from inside the
 * `render` event, before the browser may clear the drawing buffer, and its pixels are counted.
 */
export function canvasStats(page: Page, background: [number, number, number]): Promise<CanvasStats> {
  return page.evaluate(
    (bg) =>
      new Promise<CanvasStats>((resolve) => {
        const map = (globalThis as unknown as InPage).citytel.map;
        map.once('render', () => {
          const src = map.getCanvas();
          const copy = (globalThis as unknown as InPage).document.createElement('canvas');
          copy.width = src.width;
          copy.height = src.height;
          const ctx = copy.getContext('2d')!;
          ctx.drawImage(src, 0, 0);
          const px = ctx.getImageData(0, 0, copy.width, copy.height).data;
          let drawn = 0;
          const colours = new Set<number>();
          for (let i = 0; i < px.length; i += 4) {
            const [r, g, b] = [px[i]!, px[i + 1]!, px[i + 2]!];
            if (Math.abs(r - bg[0]) + Math.abs(g - bg[1]) + Math.abs(b - bg[2]) < 12) continue;
            drawn++;
            colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
          }
          resolve({ width: copy.width, height: copy.height, drawn, colours: colours.size });
        });
        map.triggerRepaint();
      }),
    background,
  );
}

/**
 * What the screen shows in `clip` (page pixels), as composited: the screenshot is decoded by the page
 * itself (no PNG decoder needed here), and its saturated pixels counted — the map's bands are colours,
 * the page's background and cards are greys and white.
 */
export async function screenStats(
  page: Page,
  clip: { x: number; y: number; width: number; height: number },
): Promise<{ pixels: number; coloured: number }> {
  const png = (await page.screenshot({ clip })).toString('base64');
  return page.evaluate(async (data) => {
    const g = globalThis as unknown as InPage & {
      Image: new () => { src: string; decode(): Promise<void>; width: number; height: number };
    };
    const img = new g.Image();
    img.src = `data:image/png;base64,${data}`;
    await img.decode();
    const c = g.document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img as never, 0, 0);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let coloured = 0;
    for (let i = 0; i < px.length; i += 4) {
      const hi = Math.max(px[i]!, px[i + 1]!, px[i + 2]!);
      const lo = Math.min(px[i]!, px[i + 1]!, px[i + 2]!);
      if (hi - lo > 40) coloured++;
    }
    return { pixels: px.length / 4, coloured };
  }, png);
}

/** The map's rendered features of `layer` (what is on screen now), with their properties. */
export function renderedFeatures(page: Page, layer: string): Promise<Array<Record<string, unknown>>> {
  return page.evaluate(
    (l) =>
      (globalThis as unknown as InPage).citytel.map
        .queryRenderedFeatures({ layers: [l] })
        .map((f) => ({ ...f.properties })),
    layer,
  );
}

/** Centres the map on a point at `zoom` and resolves once that view has been drawn. */
export function centreOn(page: Page, lonLat: [number, number], zoom: number): Promise<void> {
  return page.evaluate(
    ([center, z]) =>
      new Promise<void>((resolve) => {
        const map = (globalThis as unknown as InPage).citytel.map;
        map.once('moveend', () => map.once('render', () => resolve()));
        map.jumpTo({ center, zoom: z });
      }),
    [lonLat, zoom] as const,
  );
}

/** Page coordinates of a map position (for a real mouse click or tap there). */
export function pagePoint(page: Page, lonLat: [number, number]): Promise<{ x: number; y: number }> {
  return page.evaluate((ll) => {
    const map = (globalThis as unknown as InPage).citytel.map;
    const box = map.getCanvas().getBoundingClientRect();
    const p = map.project(ll);
    return { x: box.left + p.x, y: box.top + p.y };
  }, lonLat);
}
