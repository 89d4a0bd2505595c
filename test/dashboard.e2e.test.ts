import { mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { BAND_SCALES, bandFor, legendFor } from '@citytel/contract';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canvasStats,
  centreOn,
  type InPage,
  launchChromium,
  pageErrors,
  pagePoint,
  renderedFeatures,
  screenStats,
} from './helpers/dashboard-page.ts';
import { ensureDashboardBuilt, startWholeSystem, type WholeSystem } from './helpers/dashboard-stack.ts';
import { eventually } from './helpers/ingest.ts';

/**
 * The dashboard in a real browser against the whole platform: a real influxd, the broker, ingest, the api
 * serving the built page, and the firmware simulator's kits and cars publishing over MQTT. Headless
 * Debian Chromium (playwright-core) opens the page as a citizen would; screenshots are kept in
 * test-artifacts/ (dashboard.png: desktop, English; dashboard-mobile.png: phone, French).
 */

const ARTIFACTS = resolve(import.meta.dirname, '..', 'test-artifacts');
/** Plain background of the map (dashboard/src/style.ts BACKGROUND), as RGB. */
const BACKGROUND: [number, number, number] = [0xee, 0xf1, 0xf4];
/** Our own kit, in the north-east of Rennes, clear of the simulated ones. */
const KIT = 'e2e-kit';
const KIT_AT = { lat: 48.1372, lon: -1.6415 };
const KIT_LONLAT: [number, number] = [KIT_AT.lon, KIT_AT.lat];
/** Its history: one reading every 20 minutes over the last 4 hours. */
const HISTORY = Array.from({ length: 12 }, (_, i) => ({
  minutesAgo: (12 - i) * 20,
  pm25: 3 + i * 4.5,
  noise_laeq: 48 + i,
}));
const LIVE_PM25 = 123.4;

const colours = (features: Array<Record<string, unknown>>) => new Set(features.map((f) => String(f.color)));

describe('dashboard: the city map in a browser', () => {
  let sys: WholeSystem;
  let kit: MqttClient;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  // A basemap server that accepts connections and never says a word: the worst a tile server can do. Its
  // origin is one the api's Content-Security-Policy lets the page reach (CSP_MAP_ORIGINS).
  const sockets = new Set<Socket>();
  const silent: Server = createServer((s) => sockets.add(s));
  let silentPort = 0;
  let csp = '';
  const cspRefusals: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureDashboardBuilt();
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as { port: number }).port;
    sys = await startWholeSystem({
      kits: 8,
      vehicles: 3,
      intervalS: 2,
      apiEnv: {
        CSP_MAP_ORIGINS: `https://tiles.openfreemap.org https://tile.openstreetmap.org http://127.0.0.1:${silentPort}`,
      },
    });
    kit = await sys.kit(KIT, KIT_AT, 'Place Hoche');
    const now = Date.now();
    for (const h of HISTORY) {
      const ts = new Date(now - h.minutesAgo * 60_000).toISOString();
      await kit.publishAsync(
        `sensors/${KIT}/readings`,
        JSON.stringify({ ts, pm25: h.pm25, noise_laeq: h.noise_laeq, temperature: 9.5 }),
        { qos: 1 },
      );
    }
    // Ready when our history is in InfluxDB, the simulated kits have put cells on the map and cars wait
    // at their stations.
    await eventually(
      'the kit history and simulated cells in the api',
      async () => {
        const series = await api<{ points: Array<{ v: number | null }> }>(
          `/api/v1/devices/${KIT}/series?metric=pm25&from=-24h&every=10m`,
        );
        const map = await api<{ features: unknown[] }>('/api/v1/map?metric=noise_laeq&window=1h&cell=6');
        const fleet = await api<{ vehicles: unknown[] }>('/api/v1/vehicles');
        return (
          series.points.filter((p) => p.v !== null).length === HISTORY.length &&
          map.features.length > 2 &&
          fleet.vehicles.length > 0
        );
      },
      60_000,
    );
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
    errors = pageErrors(page);
    // Chromium reports what the Content-Security-Policy refused as console errors.
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspRefusals.push(m.text());
    });
    const opened = await page.goto(`${sys.baseUrl}/?lang=en&metric=pm25&window=1h`);
    csp = (await opened?.allHeaders())?.['content-security-policy'] ?? '';
    await page.waitForSelector('#map[data-ready="true"][data-cells-count]', { timeout: 30_000 });
  }, 180_000);

  afterAll(async () => {
    silent.close();
    await browser?.close();
    await kit?.endAsync(true);
    await sys?.close();
  });

  const api = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${sys.baseUrl}${path}`);
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  };

  it('is served by the api at / and draws the map on its WebGL canvas', async () => {
    expect(await page.title()).toBe('citytel — air and noise map');
    // Under the api's Content-Security-Policy: MapLibre's blob: workers and the Vite build run, nothing refused.
    expect(csp).toMatch(/worker-src 'self' blob:/);
    expect(csp).toMatch(/script-src 'self';/);
    expect(await page.locator('canvas.maplibregl-canvas').count()).toBe(1);
    await expect.poll(async () => (await renderedFeatures(page, 'cells-fill')).length).toBeGreaterThan(0);
    const stats = await canvasStats(page, BACKGROUND);
    expect(stats.width).toBeGreaterThan(1000);
    // Cells and kits cover a visible part of the canvas, in several colours (not a blank or uniform frame).
    expect(stats.drawn / (stats.width * stats.height)).toBeGreaterThan(0.005);
    expect(stats.colours).toBeGreaterThan(5);
    // And the screen shows it: the map's part between the controls and the right edge is coloured.
    const screen = await screenStats(page, { x: 330, y: 50, width: 880, height: 740 });
    expect(screen.coloured / screen.pixels).toBeGreaterThan(0.005);
    expect(cspRefusals).toEqual([]);
  });

  it('shows the bands of the chosen measure in the legend', async () => {
    const bands = await page
      .locator('#legend li[data-band]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-band')));
    expect(bands).toEqual(legendFor('pm25').map((r) => r.label));
    expect(await page.locator('#legend li[data-band] .name').allTextContents()).toEqual([
      'Good',
      'Fair',
      'Moderate',
      'Poor',
      'Very poor',
      'Extremely poor',
    ]);
    // Each band carries its number, the one drawn on cells and kits: colour is never the only cue.
    expect(await page.locator('#legend li[data-band] .swatch').allTextContents()).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
    ]);
    expect(await page.locator('#legend-title').textContent()).toBe('PM2.5 (µg/m³)');
  });

  it('switching the measure changes the legend and the cells', async () => {
    const eaqi = new Set(BAND_SCALES.pm25!.colors);
    const noise = new Set(BAND_SCALES.noise_laeq!.colors);
    const before = await renderedFeatures(page, 'cells-fill');
    expect(before.length).toBeGreaterThan(0);
    expect([...colours(before)].every((c) => eaqi.has(c))).toBe(true);

    await page.click('label[for="metric-noise_laeq"]');
    await page.waitForSelector('#map[data-cells-metric="noise_laeq"]');
    await page.waitForSelector('#legend[data-metric="noise_laeq"]');
    const bands = await page
      .locator('#legend li[data-band]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-band')));
    expect(bands).toEqual(legendFor('noise_laeq').map((r) => r.label));
    expect(await page.locator('#legend .who').count()).toBe(1);
    // Now in the noise classes' colours (once drawn: the map renders new data a frame or two later).
    await expect
      .poll(async () => {
        const shown = await renderedFeatures(page, 'cells-fill');
        return shown.length > 0 && [...colours(shown)].every((c) => noise.has(c));
      })
      .toBe(true);
    const after = await renderedFeatures(page, 'cells-fill');
    // Each cell in the class of its own mean.
    for (const c of after) expect(c.color).toBe(bandFor('noise_laeq', Number(c.mean))!.color);
    // The cells are the api's noise cells for this view.
    const cells = await api<{ features: Array<{ properties: { cell: string } }> }>(
      `/api/v1/map?metric=noise_laeq&window=1h&cell=${after[0]!.cell!.toString().length}`,
    );
    const known = new Set(cells.features.map((f) => f.properties.cell));
    for (const c of after) expect(known.has(String(c.cell))).toBe(true);

    await page.click('label[for="metric-pm25"]');
    await page.waitForSelector('#map[data-cells-metric="pm25"]');
  });

  it('clicking a kit opens its panel with a chart of its real readings', async () => {
    await centreOn(page, KIT_LONLAT, 15);
    await page.waitForFunction(
      (id) =>
        (globalThis as unknown as InPage).citytel.map
          .queryRenderedFeatures({ layers: ['devices-circle'] })
          .some((f) => f.properties.id === id),
      KIT,
    );
    const at = await pagePoint(page, KIT_LONLAT);
    await page.mouse.click(at.x, at.y);

    await page.waitForSelector(`#panel[data-device="${KIT}"]:not([hidden])`);
    expect(await page.locator('#panel-title').textContent()).toBe('Place Hoche');
    const figure = page.locator('#panel figure.chart[data-state="ready"]');
    await figure.waitFor();
    expect(await figure.getAttribute('data-metric')).toBe('pm25');

    // The dots are the api's 10-minute means of the last 24 h, value for value.
    const series = await api<{ points: Array<{ v: number | null }> }>(
      `/api/v1/devices/${KIT}/series?metric=pm25&from=-24h&every=10m&fn=mean`,
    );
    const expected = series.points.flatMap((p) => (p.v === null ? [] : [p.v]));
    expect(expected).toEqual(HISTORY.map((h) => h.pm25));
    expect(await figure.getAttribute('data-points')).toBe(String(expected.length));
    const dots = await figure
      .locator('circle')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-v'))));
    expect(dots).toEqual(expected);
    // Each dot in the colour of its band.
    const fills = await figure.locator('circle').evaluateAll((els) => els.map((e) => e.getAttribute('fill')));
    expect(fills).toEqual(expected.map((v) => bandFor('pm25', v)!.color));
    expect(await page.locator('#panel [data-metric="pm25"] .v').textContent()).toBe(
      `${HISTORY.at(-1)!.pm25} µg/m³`,
    );
  });

  it('shows a reading published now without reloading the page', async () => {
    await page.evaluate(() => {
      (globalThis as unknown as { sameDocument?: boolean }).sameDocument = true;
    });
    const eventsBefore = Number(await page.locator('#live').getAttribute('data-events'));
    expect(await page.locator('#live').getAttribute('data-state')).toBe('live');

    await kit.publishAsync(`sensors/${KIT}/readings`, JSON.stringify({ pm25: LIVE_PM25 }), { qos: 1 });

    // The open panel, the kit's point and the cell it stands in, all from the stream.
    const value = page.locator('#panel [data-metric="pm25"] .v');
    await expect.poll(() => value.textContent(), { timeout: 15_000 }).toBe(`${LIVE_PM25} µg/m³`);
    const veryPoor = bandFor('pm25', LIVE_PM25)!;
    expect(await page.locator('#panel [data-metric="pm25"] .chip').textContent()).toBe(
      `${veryPoor.level}Very poor`,
    );
    await expect
      .poll(async () => (await renderedFeatures(page, 'devices-circle')).find((f) => f.id === KIT)?.color, {
        timeout: 5000,
      })
      .toBe(veryPoor.color);
    await expect
      .poll(async () => (await renderedFeatures(page, 'cells-fill')).some((c) => c.max === LIVE_PM25), {
        timeout: 5000,
      })
      .toBe(true);
    // The chart is read again a moment later and ends with the new reading's bucket.
    const lastDot = page.locator('#panel figure.chart circle').last();
    await expect.poll(() => lastDot.getAttribute('data-v'), { timeout: 15_000 }).toBe(String(LIVE_PM25));
    expect(Number(await page.locator('#live').getAttribute('data-events'))).toBeGreaterThan(eventsBefore);
    expect(
      await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument),
    ).toBe(true);
  });

  it('shows the shared cars free to book, at their stations', async () => {
    const fleet = await api<{ view: string; vehicles: Array<{ id: string }> }>('/api/v1/vehicles');
    expect(fleet.view).toBe('public');
    expect(fleet.vehicles.length).toBeGreaterThan(0);
    await page.waitForSelector('#layer-cars-item:not([hidden])');
    // The city as a whole between the controls and the kit's panel, still open: the test's screenshot.
    await centreOn(page, [-1.6677, 48.118], 12.5);
    // The page reads the fleet every 30 s and on status changes.
    await expect
      .poll(async () => (await renderedFeatures(page, 'vehicles')).map((f) => String(f.id)).sort(), {
        timeout: 40_000,
      })
      .toEqual(fleet.vehicles.map((v) => v.id).sort());
    for (const f of await renderedFeatures(page, 'vehicles')) expect(f.state).toBe('available');

    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png') });
    expect(errors).toEqual([]);
  });

  it('replays the last 24 hours with the slider, from the keyboard', async () => {
    await page.focus('#replay');
    for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowLeft');
    await page.waitForSelector('#map:not([data-cells-to="live"])');
    expect(await page.locator('#live').getAttribute('data-state')).toBe('replay');
    // An hour ago, on the slider's 10-minute steps; the kits' live points give way to the cells.
    const to = Date.parse((await page.locator('#map').getAttribute('data-cells-to'))!);
    expect(to % 600_000).toBe(0);
    expect(Date.now() - to).toBeGreaterThan(55 * 60_000);
    expect(Date.now() - to).toBeLessThan(75 * 60_000);
    expect(await page.locator('#replay-out').textContent()).toMatch(/^\d\d:\d0$/);
    await expect.poll(async () => (await renderedFeatures(page, 'devices-circle')).length).toBe(0);
    // The cells are the api's for the hour before `to`, mean for mean (once the map has drawn them).
    const answers = new Map<number, Map<string, number>>();
    const meansOf = async (cell: number) => {
      if (!answers.has(cell)) {
        const a = await api<{ features: Array<{ properties: { cell: string; mean: number } }> }>(
          `/api/v1/map?metric=pm25&window=1h&cell=${cell}&to=${new Date(to).toISOString()}`,
        );
        answers.set(cell, new Map(a.features.map((f) => [f.properties.cell, f.properties.mean])));
      }
      return answers.get(cell)!;
    };
    await expect
      .poll(async () => {
        const shown = await renderedFeatures(page, 'cells-fill');
        if (shown.length === 0) return 'no cells drawn';
        const means = await meansOf(String(shown[0]!.cell).length);
        const wrong = shown.filter((c) => c.mean !== means.get(String(c.cell)));
        return wrong.length === 0 ? 'same' : `${wrong.length} of ${shown.length} differ`;
      })
      .toBe('same');

    await page.keyboard.press('End');
    await page.waitForSelector('#map[data-cells-to="live"]');
    expect(await page.locator('#live').getAttribute('data-state')).toBe('live');
    await expect.poll(async () => (await renderedFeatures(page, 'devices-circle')).length).toBeGreaterThan(0);
  });

  // Software WebGL draws a phone's 2× screen slowly: this one gets more time.
  it('fits a phone, in French, with touch', { timeout: 180_000 }, async () => {
    // Software WebGL is slow: the desktop page, done with, stops drawing so the phone's gets the CPU.
    await page.close();
    const phone = await browser.newPage({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'fr-FR',
    });
    const phoneErrors = pageErrors(phone);

    try {
      await phone.goto(`${sys.baseUrl}/?metric=noise_laeq`);
      await phone.waitForSelector('#map[data-ready="true"][data-cells-metric="noise_laeq"]', {
        timeout: 30_000,
      });
      expect(await phone.locator('html').getAttribute('lang')).toBe('fr');
      expect(await phone.locator('label[for="metric-noise_laeq"]').textContent()).toBe('Bruit');
      // The settings fold away behind one button on a small screen; the measures stay in reach.
      expect(await phone.locator('#controls-body').isVisible()).toBe(false);
      await phone.tap('#controls-toggle');
      expect(await phone.locator('#controls-body').isVisible()).toBe(true);
      await phone.tap('#controls-toggle');
      await centreOn(phone, KIT_LONLAT, 15);
      const at = await pagePoint(phone, KIT_LONLAT);
      await phone.touchscreen.tap(at.x, at.y);
      await phone.waitForSelector(`#panel[data-device="${KIT}"]:not([hidden])`);
      await phone.locator('#panel figure.chart[data-state="ready"]').waitFor();
      // The panel is a bottom sheet: the map moved the kit into the part it leaves free.
      const sheet = await phone.locator('#panel').boundingBox();
      await expect.poll(async () => (await pagePoint(phone, KIT_LONLAT)).y).toBeLessThan(sheet!.y);
      expect(await phone.locator('#panel h3').first().textContent()).toBe('Dernières valeurs');
      await phone.screenshot({ path: join(ARTIFACTS, 'dashboard-mobile.png') });
      expect(phoneErrors).toEqual([]);
    } finally {
      await phone.close();
    }
  });

  it('draws the data when the basemap server never answers, then says the street map is off', async () => {
    const port = silentPort;
    const offline = await browser.newPage({ viewport: { width: 1024, height: 700 }, locale: 'en-GB' });
    const offlineErrors = pageErrors(offline);
    try {
      await offline.goto(
        `${sys.baseUrl}/?basemap=${encodeURIComponent(`http://127.0.0.1:${port}/style.json`)}`,
      );
      await offline.waitForSelector('#map[data-ready="true"][data-cells-count]', { timeout: 60_000 });
      // The style was asked for and never answered; the cells are drawn all the same.
      expect(sockets.size).toBeGreaterThan(0);
      await expect
        .poll(async () => (await renderedFeatures(offline, 'cells-fill')).length)
        .toBeGreaterThan(0);
      await offline.waitForSelector('#note[data-key="basemapOffCity"]:not([hidden])', { timeout: 30_000 });
      expect(await offline.locator('#note').textContent()).toBe(
        'Street map unreachable: the city’s main roads are shown instead.',
      );
      // The city's own roads take its place (test/dashboard-city.e2e.test.ts checks them by name).
      await expect
        .poll(async () => (await renderedFeatures(offline, 'city-roads')).length)
        .toBeGreaterThan(0);
      await expect
        .poll(async () => (await renderedFeatures(offline, 'cells-fill')).length)
        .toBeGreaterThan(0);
      expect(offlineErrors).toEqual([]);
    } finally {
      await offline.close();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
