import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { bandFor } from '@citytel/contract';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RENNES } from '../firmware-sim/src/city.ts';
import { type InPage, launchChromium, pageErrors, renderedFeatures } from './helpers/dashboard-page.ts';
import { ensureDashboardBuilt, startWholeSystem, type WholeSystem } from './helpers/dashboard-stack.ts';
import { eventually } from './helpers/ingest.ts';

/**
 * The citizen's map as issue 17 asks for it, in Chromium against the whole platform: streets under the
 * data (the OpenFreeMap style asked for by default, the city's own roads offline), a view fitted to the
 * kits on a phone and a desktop, a kit's page whose charts are the api's numbers, a keyboard path to
 * every kit and area, the open-data links, and axe-core's audit. Screenshots in test-artifacts/:
 * dashboard-desktop.png, dashboard-phone.png, dashboard-kit.png.
 */

const ARTIFACTS = resolve(import.meta.dirname, '..', 'test-artifacts');
const STYLE_URL = 'https://tiles.openfreemap.org/styles/liberty';
const KIT = 'e2e-city-kit';
const KIT_AT = { lat: 48.1146, lon: -1.6575 };
/** One reading every 20 minutes over the last 4 hours. */
const HISTORY = Array.from({ length: 12 }, (_, i) => ({
  minutesAgo: (12 - i) * 20 + 5,
  pm25: 4 + i * 3,
  noise_laeq: 50 + i,
}));
/** A 1×1 PNG: the stub basemap's only tile. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z/C/HgAGgwJ/lK3Q6wAAAABJRU5ErkJggg==',
  'base64',
);
/** A stand-in for the network style (no internet here): roads as a raster, then a label layer. */
const STUB_STYLE = {
  version: 8,
  sources: {
    stubtiles: {
      type: 'raster',
      tiles: ['https://tiles.openfreemap.org/stub/{z}/{x}/{y}.png'],
      tileSize: 256,
      attribution: '© OpenStreetMap contributors (stub)',
    },
    places: {
      type: 'geojson',
      data: { type: 'FeatureCollection', features: [] },
    },
  },
  layers: [
    { id: 'stub-background', type: 'background', paint: { 'background-color': '#f4f1ea' } },
    { id: 'stub-roads', type: 'raster', source: 'stubtiles' },
    { id: 'stub-labels', type: 'symbol', source: 'places', layout: {} },
  ],
};

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  nodes: Array<{ target: string[] }>;
}

/** axe-core's serious and critical violations on the page as it is now (WCAG 2.1 A/AA and best practices). */
async function axeSerious(
  page: Page,
): Promise<Array<{ id: string; impact: string | null; targets: string[] }>> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run(o: object): Promise<{ violations: AxeViolation[] }> } }
    ).axe;
    const r = await axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice'] },
    });
    return r.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.flatMap((n) => n.target).slice(0, 5) }));
}

/** Answers the network basemap with the stub style and its tile; records what was asked. */
async function stubBasemap(page: Page): Promise<string[]> {
  const asked: string[] = [];
  await page.route('https://tiles.openfreemap.org/**', async (route) => {
    const url = route.request().url();
    asked.push(url);
    if (url === STYLE_URL)
      await route.fulfill({ json: STUB_STYLE, headers: { 'Access-Control-Allow-Origin': '*' } });
    else
      await route.fulfill({
        body: PNG,
        contentType: 'image/png',
        headers: { 'Access-Control-Allow-Origin': '*' },
      });
  });
  return asked;
}

/** The network basemap unreachable, as on a machine offline. */
async function offline(page: Page): Promise<string[]> {
  const asked: string[] = [];
  await page.route('https://tiles.openfreemap.org/**', (route) => {
    asked.push(route.request().url());
    return route.abort('internetdisconnected');
  });
  return asked;
}

describe('dashboard: streets, fitted views, kit pages, keyboard and audit', () => {
  let sys: WholeSystem;
  let kit: MqttClient;
  let browser: Browser;

  const api = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${sys.baseUrl}${path}`);
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  };

  /** The kits (not cars) with a position, as the api lists them. */
  const kitsOnMap = async () => {
    const fc = await api<{
      features: Array<{
        geometry: { coordinates: [number, number] } | null;
        properties: { id: string; kind: string };
      }>;
    }>('/api/v1/devices');
    return fc.features.filter((f) => f.geometry && f.properties.kind !== 'vehicle');
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureDashboardBuilt();
    sys = await startWholeSystem({ kits: 8, vehicles: 2, intervalS: 2 });
    kit = await sys.kit(KIT, KIT_AT, 'Rue de Paris');
    const now = Date.now();
    for (const h of HISTORY) {
      const ts = new Date(now - h.minutesAgo * 60_000).toISOString();
      await kit.publishAsync(
        `sensors/${KIT}/readings`,
        JSON.stringify({ ts, pm25: h.pm25, noise_laeq: h.noise_laeq }),
        { qos: 1 },
      );
    }
    await eventually(
      'the kit history and simulated cells',
      async () => {
        const series = await api<{ points: Array<{ v: number | null }> }>(
          `/api/v1/devices/${KIT}/series?metric=pm25&from=-24h&every=10m`,
        );
        const map = await api<{ features: unknown[] }>('/api/v1/map?metric=pm25&window=1h&cell=6');
        return series.points.filter((p) => p.v !== null).length === HISTORY.length && map.features.length > 2;
      },
      60_000,
    );
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await kit?.endAsync(true);
    await sys?.close();
  });

  /** Every kit inside the map's visible part, clear of the cards floating over it. */
  const kitsInClearView = (page: Page, kits: Array<[number, number]>) =>
    page.evaluate((points) => {
      const g = globalThis as unknown as InPage & {
        document: { getElementById(id: string): { getBoundingClientRect(): DOMRectLike } | null };
      };
      type DOMRectLike = { left: number; right: number; top: number; bottom: number; width: number };
      const map = g.citytel.map;
      const box = (
        map.getCanvas() as unknown as { getBoundingClientRect(): DOMRectLike }
      ).getBoundingClientRect();
      const cards = ['controls', 'legend']
        .map((id) => g.document.getElementById(id)?.getBoundingClientRect())
        .filter((r): r is DOMRectLike => !!r && r.width > 0);
      return points.filter((ll) => {
        const p = map.project(ll);
        const x = box.left + p.x;
        const y = box.top + p.y;
        const inMap = x > box.left && x < box.right && y > box.top && y < box.bottom;
        const covered = cards.some((c) => x >= c.left && x <= c.right && y >= c.top && y <= c.bottom);
        return !inMap || covered;
      });
    }, kits);

  it('asks for the OpenFreeMap style by default and draws the data above its roads, below its labels', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
    const errors = pageErrors(page);
    try {
      const asked = await stubBasemap(page);
      await page.goto(`${sys.baseUrl}/?lang=en`);
      await page.waitForSelector('#map[data-ready="true"][data-cells-count]', { timeout: 60_000 });
      await expect.poll(() => asked.includes(STYLE_URL), { timeout: 20_000 }).toBe(true);
      const order = async () =>
        page.evaluate(() =>
          (
            globalThis as unknown as { citytel: { map: { getStyle(): { layers: Array<{ id: string }> } } } }
          ).citytel.map
            .getStyle()
            .layers.map((l) => l.id),
        );
      await expect.poll(async () => (await order()).includes('stub-roads'), { timeout: 20_000 }).toBe(true);
      const ids = await order();
      expect(ids.indexOf('stub-roads')).toBeLessThan(ids.indexOf('cells-fill'));
      expect(ids.indexOf('devices-circle')).toBeLessThan(ids.indexOf('stub-labels'));
      expect(ids.indexOf('stub-labels')).toBeLessThan(ids.indexOf('cells-level'));
      expect(ids).not.toContain('city-roads');
      // Its tiles were asked for, it stays (no note), and its credit is in the corner with the api's licence.
      expect(asked.some((u) => u.endsWith('.png'))).toBe(true);
      await page.waitForTimeout(8500);
      expect(await page.locator('#note').isHidden()).toBe(true);
      expect((await order()).includes('stub-roads')).toBe(true);
      const credit = await page.locator('.maplibregl-ctrl-attrib-inner').textContent();
      expect(credit).toContain('© OpenStreetMap contributors (stub)');
      expect(credit).toContain('Open data ODbL-1.0');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("offline, draws the city's roads, river and stations, fitted to its kits on a desktop", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
    const errors = pageErrors(page);
    try {
      const asked = await offline(page);
      await page.goto(`${sys.baseUrl}/?lang=en&metric=pm25`);
      await page.waitForSelector('#map[data-ready="true"][data-cells-count]', { timeout: 60_000 });
      await page.waitForSelector('#note[data-key="basemapOffCity"]:not([hidden])', { timeout: 30_000 });
      expect(asked).toContain(STYLE_URL);
      expect(await page.locator('#note').textContent()).toBe(
        'Street map unreachable: the city’s main roads are shown instead.',
      );
      // The roads on screen are the simulator's roads, by name; the river and the stations too.
      await expect
        .poll(async () => new Set((await renderedFeatures(page, 'city-roads')).map((f) => f.name)).size, {
          timeout: 20_000,
        })
        .toBeGreaterThan(RENNES.roads.length / 2);
      const roads = new Set((await renderedFeatures(page, 'city-roads')).map((f) => String(f.name)));
      for (const r of roads) expect(RENNES.roads.map((x) => x.name)).toContain(r);
      expect((await renderedFeatures(page, 'city-water')).map((f) => f.name)).toContain('La Vilaine');
      expect((await renderedFeatures(page, 'city-stations')).length).toBeGreaterThan(5);

      // Every kit is in view and none under the controls or the legend; all are drawn as points.
      const kits = await kitsOnMap();
      expect(
        await kitsInClearView(
          page,
          kits.map((k) => k.geometry!.coordinates),
        ),
      ).toEqual([]);
      const drawn = async (p: Page) => {
        const ids = new Set((await renderedFeatures(p, 'devices-circle')).map((f) => String(f.id)));
        return kits.filter((k) => !ids.has(k.properties.id)).map((k) => k.properties.id);
      };
      await expect.poll(() => drawn(page)).toEqual([]);
      expect((await renderedFeatures(page, 'cells-fill')).length).toBeGreaterThan(3);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-desktop.png') });

      // The open-data links: the export of this view (its box, measure and period), the docs, the fleet feed.
      const exportHref = await page.locator('#link-export').getAttribute('href');
      const u = new URL(exportHref!, sys.baseUrl);
      expect(u.pathname).toBe('/api/v1/export');
      expect(u.searchParams.get('metric')).toBe('pm25');
      expect(u.searchParams.get('from')).toBe('-1h');
      const bbox = u.searchParams.get('bbox')!.split(',').map(Number);
      for (const k of kits) {
        const [lon, lat] = k.geometry!.coordinates;
        expect(lon > bbox[0]! && lat > bbox[1]! && lon < bbox[2]! && lat < bbox[3]!).toBe(true);
      }
      const csv = await fetch(u);
      expect(csv.status).toBe(200);
      expect(await csv.text()).toContain(KIT);
      const docs = await page.locator('#link-docs').getAttribute('href');
      expect((await fetch(new URL(docs!, sys.baseUrl))).status).toBe(200);
      expect(new URL((await page.locator('#link-gbfs').getAttribute('href'))!, sys.baseUrl).pathname).toBe(
        '/gbfs/gbfs.json',
      );

      expect(await axeSerious(page)).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('a keyboard reaches every kit and area in view, with its value, and opens it', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
    try {
      await offline(page);
      await page.goto(`${sys.baseUrl}/?lang=en&metric=pm25`);
      await page.waitForSelector('#map[data-ready="true"][data-cells-count]', { timeout: 60_000 });
      // The second skip link leads to the list.
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      expect(
        await page.evaluate(
          () =>
            (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document
              .activeElement.textContent,
        ),
      ).toBe('Skip to the list of what is on the map');
      await page.keyboard.press('Enter');
      await page.focus('#inview summary');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#inview[open] .inview-list');
      const kits = await kitsOnMap();
      await expect
        .poll(() => page.locator('#inview button[data-device]').count(), { timeout: 10_000 })
        .toBe(kits.length);
      const cells = Number(await page.locator('#inview').getAttribute('data-cells'));
      expect(cells).toBeGreaterThan(0);
      expect(await page.locator('#inview button[data-cell]').count()).toBe(Math.min(cells, 60));
      expect(await page.locator('#inview-count').textContent()).toBe(`${kits.length} kits, ${cells} areas`);
      // Our kit's entry says its value and band; Tab reaches it and Enter opens its page.
      const entry = page.locator(`#inview button[data-device="${KIT}"]`);
      const band = bandFor('pm25', HISTORY.at(-1)!.pm25)!;
      const bandLabel = band.label[0]!.toUpperCase() + band.label.slice(1);
      expect(await entry.textContent()).toBe(
        `Rue de Paris${HISTORY.at(-1)!.pm25} µg/m³ · ${bandLabel} (${band.level})`,
      );
      await entry.focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector(`#panel[data-device="${KIT}"]:not([hidden])`);
      expect(new URL(page.url()).searchParams.get('kit')).toBe(KIT);
      // An area's entry brings the map to it.
      const first = page.locator('#inview button[data-cell]').first();
      const zoom = await page.evaluate(() => (globalThis as unknown as InPage).citytel.map.getZoom());
      await first.focus();
      await page.keyboard.press('Enter');
      await expect
        .poll(() => page.evaluate(() => (globalThis as unknown as InPage).citytel.map.getZoom()))
        .toBeGreaterThan(zoom);
    } finally {
      await page.close();
    }
  });

  it("a kit's page: its chart and the city's median, its average day, each the api's numbers", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
    const errors = pageErrors(page);
    try {
      await offline(page);
      await page.goto(`${sys.baseUrl}/?lang=en&metric=pm25&window=24h&kit=${KIT}`);
      await page.waitForSelector(`#panel[data-device="${KIT}"]:not([hidden])`, { timeout: 60_000 });
      const figure = page.locator('#panel figure.chart[data-state="ready"]');
      await figure.waitFor({ timeout: 20_000 });
      const series = await api<{ points: Array<{ t: string; v: number | null }> }>(
        `/api/v1/devices/${KIT}/series?metric=pm25&from=-24h&every=10m&fn=mean`,
      );
      const expected = series.points.flatMap((p) => (p.v === null ? [] : [p.v]));
      expect(expected).toEqual(HISTORY.map((h) => h.pm25));
      const dots = await figure
        .locator('circle')
        .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-v'))));
      expect(dots).toEqual(expected);
      // The city's median, bucket for bucket, as the table under the chart gives it.
      const city = await api<{ points: Array<{ t: string; v: number | null }> }>(
        '/api/v1/city/series?metric=pm25&from=-24h&every=10m',
      );
      const cityValues = city.points.flatMap((p) => (p.v === null ? [] : [p.v]));
      expect(cityValues.length).toBeGreaterThan(0);
      expect(Number(await figure.getAttribute('data-city'))).toBeGreaterThanOrEqual(cityValues.length - 1);
      const rows = await figure
        .locator('table tbody tr')
        .evaluateAll((trs) =>
          trs.map((tr) =>
            Array.from(
              (tr as unknown as { children: ArrayLike<{ textContent: string | null }> }).children,
            ).map((c) => c.textContent ?? ''),
          ),
        );
      const kitColumn = rows.map((r) => r[1]).filter((v) => v !== '—');
      expect(kitColumn).toEqual(expected.map((v) => `${v} µg/m³`));
      const cityColumn = rows.map((r) => r[2]).filter((v) => v !== '—');
      const fmt = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 1 });
      // The page read the median a moment before or after the test: all but the newest bucket agree.
      expect(cityColumn.slice(0, -1)).toEqual(
        cityValues.slice(0, cityColumn.length - 1).map((v) => `${fmt.format(v)} µg/m³`),
      );

      // The average day: 24 bars, the api's profile in the city's zone.
      const profile = await api<{ hours: Array<{ hour: number; v: number | null }> }>(
        `/api/v1/devices/${KIT}/profile?metric=pm25&days=7&tz=Europe/Paris`,
      );
      const box = page.locator('#panel section.profile[data-state="ready"]');
      await box.waitFor();
      const bars = await box
        .locator('rect.bar')
        .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-v'))));
      expect(bars).toEqual(profile.hours.flatMap((x) => (x.v === null ? [] : [x.v])));
      await box.locator('button[data-days="30"]').click();
      await page.waitForSelector('#panel section.profile figure[data-days="30"]');

      // The daily Lden/Lnight section is drawn when the api has a level for some day, and stays out otherwise.
      const from = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
      const noiseDays = (
        (await (
          await fetch(`${sys.baseUrl}/api/v1/devices/${KIT}/noise-indicators?from=${from}`)
        ).json()) as { days: Array<{ lden: number | null; lnight: { level: number | null } }> }
      ).days;
      const anyLevel = noiseDays.some((d) => d.lden !== null || d.lnight.level !== null);
      const noiseBox = page.locator('#panel section.noise-days');
      if (anyLevel) await page.waitForSelector('#panel section.noise-days[data-state="ready"]');
      else expect(await noiseBox.isHidden()).toBe(true);

      // The link back to the map keeps the measure, the period, the position and the kit.
      const link = page.locator('#panel a[data-link="kit"]');
      await link.focus();
      const href = new URL((await link.getAttribute('href'))!);
      expect(href.searchParams.get('kit')).toBe(KIT);
      expect(href.searchParams.get('metric')).toBe('pm25');
      expect(href.searchParams.get('window')).toBe('24h');
      expect(href.hash).toMatch(/^#map=\d+(\.\d+)?\/48\.\d+\/-1\.\d+/);
      const again = await browser.newPage({ viewport: { width: 800, height: 700 } });
      try {
        await offline(again);
        await again.goto(href.href);
        await again.waitForSelector(`#panel[data-device="${KIT}"]:not([hidden])`, { timeout: 60_000 });
        expect(await again.locator('input[name="window"][value="24h"]').isChecked()).toBe(true);
      } finally {
        await again.close();
      }

      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-kit.png') });
      expect(await axeSerious(page)).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('shows quality flags, corrected PM and daily Lden/Lnight where the api serves them', async () => {
    // The api of this branch has none of these yet: its answers are extended here in the shapes src/api.ts
    // reads, as an api with quality flags, humidity correction and noise indicators would send them.
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, locale: 'en-GB' });
    const errors = pageErrors(page);
    try {
      await offline(page);
      await page.route('**/api/v1/devices', async (route) => {
        const res = await route.fetch();
        const fc = (await res.json()) as { features: Array<{ properties: Record<string, unknown> }> };
        for (const f of fc.features) {
          if (f.properties.id !== KIT) continue;
          f.properties.flags = { pm25: ['humidity_high'], noise_laeq: [] };
          f.properties.corrected = { pm25: { value: 21.5, method: 'epa-barkjohn-2021' } };
        }
        await route.fulfill({ response: res, json: fc });
      });
      const days = [
        { date: '2026-12-05', lden: 58.2, lnight: 47.9, complete: true },
        { date: '2026-12-06', lden: 51.4, lnight: 43.1, complete: true },
        { date: '2026-12-07', lden: 55, lnight: null, complete: false },
      ];
      await page.route(`**/api/v1/devices/${KIT}/noise-indicators*`, (route) =>
        route.fulfill({ json: { days } }),
      );
      await page.goto(`${sys.baseUrl}/?lang=en&metric=pm25&kit=${KIT}`);
      await page.waitForSelector(`#panel[data-device="${KIT}"]:not([hidden])`, { timeout: 60_000 });
      expect(await page.locator('#panel [data-metric="pm25"] .quality').textContent()).toBe(
        'Quality: humidity_high',
      );
      expect(await page.locator('#panel [data-metric="noise_laeq"] .quality').textContent()).toBe(
        'Quality: checked',
      );
      const row = page.locator('#panel table.pm-compare tr[data-metric="pm25"]');
      expect(await row.locator('.measured').textContent()).toBe(`${HISTORY.at(-1)!.pm25} µg/m³`);
      expect(await row.locator('.corrected').textContent()).toBe('21.5 µg/m³');
      const noise = page.locator('#panel section.noise-days[data-state="ready"]');
      await noise.waitFor();
      const lden = await noise
        .locator('rect.lden')
        .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-v'))));
      expect(lden).toEqual([58.2, 51.4, 55]);
      const lnight = await noise
        .locator('rect.lnight')
        .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-v'))));
      expect(lnight).toEqual([47.9, 43.1]);
      // The WHO's two marks, and the incomplete day said so in the table.
      expect(await noise.locator('.who-label').allTextContents()).toEqual(['WHO Lden 53', 'WHO Lnight 45']);
      expect(await noise.locator('tbody tr').last().locator('th').textContent()).toContain(
        '(incomplete day)',
      );
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('fits the city on a 390 px phone: several cells and every kit in view', {
    timeout: 180_000,
  }, async () => {
    const phone = await browser.newPage({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'en-GB',
    });
    const errors = pageErrors(phone);
    try {
      await offline(phone);
      await phone.goto(`${sys.baseUrl}/?lang=en&metric=pm25`);
      await phone.waitForSelector('#map[data-ready="true"][data-cells-count]', { timeout: 60_000 });
      const kits = await kitsOnMap();
      expect(
        await kitsInClearView(
          phone,
          kits.map((k) => k.geometry!.coordinates),
        ),
      ).toEqual([]);
      await expect
        .poll(
          async () => {
            const ids = new Set((await renderedFeatures(phone, 'devices-circle')).map((f) => String(f.id)));
            return kits.filter((k) => !ids.has(k.properties.id)).map((k) => k.properties.id);
          },
          { timeout: 30_000 },
        )
        .toEqual([]);
      // Neighbourhood cells, not a few big ones: several on screen.
      await expect
        .poll(async () => (await renderedFeatures(phone, 'cells-fill')).length, { timeout: 30_000 })
        .toBeGreaterThan(4);
      const cellLength = String((await renderedFeatures(phone, 'cells-fill'))[0]!.cell).length;
      expect(cellLength).toBeGreaterThanOrEqual(6);
      await expect
        .poll(async () => (await renderedFeatures(phone, 'city-roads')).length, { timeout: 20_000 })
        .toBeGreaterThan(3);
      await phone.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png') });
      expect(await axeSerious(phone)).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await phone.close();
    }
  });
});
