import { METRIC_NAMES, type Metric } from '@citytel/contract';
import {
  citySeries,
  correctedOf,
  type DeviceFeature,
  getJson,
  isAbort,
  qualityOf,
  query,
  type SeriesAnswer,
} from './api.ts';
import { renderChart, seriesTable } from './chart.ts';
import type { Devices } from './devices.ts';
import { byId, h } from './dom.ts';
import { bandName, formatAgo, formatValue, type Key, metricName, t } from './i18n.ts';
import { kitLinks, loadNoiseDays, loadProfile } from './kit-page.ts';
import { shadeFor } from './scale.ts';
import type { Store } from './state.ts';

/** The chart covers at least a day; a week with the 7-day window. */
const CHART = {
  day: { from: '-24h', every: '10m', label: 'range24h' as Key },
  week: { from: '-7d', every: '2h', label: 'range7d' as Key },
};
/** After a live reading of the open kit, its chart is read again this much later (readings land in InfluxDB). */
const CHART_RELOAD_MS = 4000;

export interface Panel {
  /** Redraws the values (live reading) and, a moment later, the chart. */
  update(id: string): void;
  render(): void;
}

/**
 * The panel of one kit: what it is, its latest values with their bands (each one a button that charts
 * that measure), and the chart of the last 24 hours from GET /devices/{id}/series. A mobile kit's or
 * car's recent track is drawn on the map by `onTrack`.
 */
export function createPanel(
  store: Store,
  devices: Devices,
  onTrack: (device: DeviceFeature | undefined, metric: Metric) => void,
): Panel {
  const root = byId('panel');
  let chartMetric: Metric | null = null;
  let chartAbort: AbortController | undefined;
  let reloadTimer: ReturnType<typeof setTimeout> | undefined;
  let openedFor: string | null = null;

  const close = () => store.set({ selected: null });
  let sideAbort: AbortController | undefined;
  /** One signal for the page's side sections, aborted when it is drawn again. */
  const signalFor = (): AbortSignal => {
    sideAbort?.abort();
    sideAbort = new AbortController();
    return sideAbort.signal;
  };

  const pickMetric = (d: DeviceFeature): Metric => {
    const has = (m: Metric) => d.properties.values[m] !== undefined;
    if (chartMetric && has(chartMetric)) return chartMetric;
    if (has(store.state.metric)) return store.state.metric;
    return METRIC_NAMES.find(has) ?? store.state.metric;
  };

  const metaText = (d: DeviceFeature): string => {
    const p = d.properties;
    const seen = p.lastSeen ? t('lastSeen', { t: formatAgo(Date.parse(p.lastSeen)) }) : t('neverSeen');
    return [t(`kind_${p.kind}` as Key), p.mobile ? t('mobile') : '', p.indoor ? t('indoor') : '', seen]
      .filter(Boolean)
      .join(' · ');
  };

  const valuesList = (d: DeviceFeature, current: Metric) => {
    const ms = METRIC_NAMES.filter((m) => d.properties.values[m] !== undefined);
    if (ms.length === 0) return h('p', { class: 'muted' }, t('noLatest'));
    return h(
      'ul',
      { class: 'values' },
      ...ms.map((m) => {
        const v = d.properties.values[m]!;
        const shade = shadeFor(m, v);
        const button = h(
          'button',
          { type: 'button', 'data-metric': m, 'aria-pressed': String(m === current) },
          h('span', { class: 'm' }, metricName(m)),
          h('span', { class: 'v' }, formatValue(m, v)),
          shade?.indexed
            ? h(
                'span',
                { class: 'chip', style: `--c:${shade.color}` },
                h('b', {}, String(shade.level)),
                bandName(shade.label),
              )
            : null,
          qualityChip(d, m),
        );
        button.addEventListener('click', () => {
          chartMetric = m;
          render();
        });
        return h('li', {}, button);
      }),
    );
  };

  async function loadChart(d: DeviceFeature, metric: Metric, figure: HTMLElement) {
    chartAbort?.abort();
    const abort = new AbortController();
    chartAbort = abort;
    const range = store.state.window === '7d' ? CHART.week : CHART.day;
    const params = query({ metric, from: range.from, every: range.every, fn: 'mean' });
    figure.dataset.state = 'loading';
    try {
      const [s, city] = await Promise.all([
        getJson<SeriesAnswer>(`/api/v1/devices/${encodeURIComponent(d.id)}/series?${params}`, {
          signal: abort.signal,
        }),
        // The city's median is a comparison: without it the kit's own chart still shows.
        citySeries(metric, range.from, range.every, abort.signal).catch((err: unknown) => {
          if (isAbort(err)) throw err;
          return undefined;
        }),
      ]);
      const points = Array.isArray(s.points) ? s.points : [];
      const answer = { ...s, points };
      const svg = renderChart(answer, metric, city?.points);
      const n = points.filter((p) => typeof p.v === 'number').length;
      figure.replaceChildren(
        svg,
        city ? chartKey() : '',
        n ? seriesTable(answer, metric, city?.points) : h('p', { class: 'muted' }, t('noData')),
      );
      figure.dataset.points = String(n);
      figure.dataset.city = city ? String(city.points.filter((p) => typeof p.v === 'number').length) : 'none';
      figure.dataset.state = 'ready';
    } catch (err) {
      if (isAbort(err)) return;
      figure.replaceChildren(h('p', { class: 'muted' }, t('dataError')));
      figure.dataset.state = 'error';
    }
  }

  function render() {
    clearTimeout(reloadTimer);
    const id = store.state.selected;
    const d = id ? devices.get(id) : undefined;
    if (!d) {
      chartAbort?.abort();
      sideAbort?.abort();
      // Focus inside the panel would fall to the page's start: it goes back to the map instead.
      if (root.contains(document.activeElement))
        document.querySelector<HTMLElement>('.maplibregl-canvas')?.focus();
      root.hidden = true;
      root.replaceChildren();
      delete root.dataset.device;
      if (openedFor) onTrack(undefined, store.state.metric);
      openedFor = null;
      return;
    }
    const metric = pickMetric(d);
    const p = d.properties;
    const range = store.state.window === '7d' ? CHART.week : CHART.day;
    const figure = h(
      'figure',
      { class: 'chart', 'data-metric': metric, 'data-state': 'loading' },
      t('loading'),
    );
    const profileBox = h('section', {
      class: 'profile',
      'aria-label': t('profile', { metric: metricName(metric) }),
    });
    const noiseBox = h('section', { class: 'noise-days', hidden: true, 'aria-label': t('noiseDays') });
    const closeButton = h(
      'button',
      { type: 'button', class: 'close', 'aria-label': t('close'), title: t('close') },
      '×',
    );
    closeButton.addEventListener('click', close);
    root.replaceChildren(
      h('header', {}, h('h2', { id: 'panel-title' }, p.name ?? p.id), closeButton),
      h('p', { class: 'meta' }, metaText(d)),
      h('p', { class: 'muted id' }, p.id),
      h('h3', {}, t('latest')),
      h('div', { class: 'values-box' }, valuesList(d, metric)),
      pmCompare(d),
      h('h3', {}, t('chart', { metric: metricName(metric), range: t(range.label) })),
      figure,
      p.mobile || p.kind === 'vehicle' ? h('p', { class: 'muted' }, t('track')) : '',
      profileBox,
      noiseBox,
      kitLinks(d.id, metric, store.state.window),
    );
    const signal = signalFor();
    void loadProfile(d.id, metric, profileBox, signal);
    if (d.properties.values.noise_laeq !== undefined) void loadNoiseDays(d.id, noiseBox, signal);
    root.dataset.device = d.id;
    const first = root.hidden;
    root.hidden = false;
    if (first || openedFor !== d.id) {
      root.focus({ preventScroll: true });
      chartMetric = metric;
    }
    openedFor = d.id;
    void loadChart(d, metric, figure);
    onTrack(p.mobile || p.kind === 'vehicle' ? d : undefined, metric);
  }

  // Escape closes the panel wherever the focus is, but leaves a field being typed in (its own Escape).
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !store.state.selected) return;
    if (e.target instanceof HTMLInputElement && ['search', 'text'].includes(e.target.type)) return;
    close();
  });
  store.on((s, changed) => {
    // The chart follows the map's measure until a value of the panel is picked.
    if (changed.has('selected') || changed.has('metric')) chartMetric = null;
    if (changed.has('selected') || changed.has('window') || (changed.has('metric') && s.selected)) render();
  });

  return {
    render,
    update(id) {
      if (store.state.selected !== id) return;
      const d = devices.get(id);
      const box = root.querySelector('.values-box');
      if (!d || !box) return;
      box.replaceChildren(valuesList(d, pickMetric(d)));
      root.querySelector('.meta')?.replaceChildren(metaText(d));
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => {
        const figure = root.querySelector<HTMLElement>('figure.chart');
        if (figure && store.state.selected === id) void loadChart(d, pickMetric(d), figure);
      }, CHART_RELOAD_MS);
    },
  };
}

/** The key of the chart's two lines. */
const chartKey = () =>
  h(
    'p',
    { class: 'chart-key' },
    h('span', { class: 'key-kit', 'aria-hidden': 'true' }),
    t('chartKit'),
    ' ',
    h('span', { class: 'key-city', 'aria-hidden': 'true' }),
    t('chartCity'),
  );

/** The latest value's quality flags, when the api gives them: "checked", or what is wrong with it. */
function qualityChip(d: DeviceFeature, m: Metric): HTMLElement | null {
  const flags = qualityOf(d.properties, m);
  if (!flags) return null;
  const ok = flags.length === 0 || (flags.length === 1 && flags[0] === 'ok');
  return h(
    'span',
    { class: `quality ${ok ? 'ok' : 'flagged'}`, 'data-flags': flags.join(',') },
    `${t('quality')}: ${ok ? t('qualityOk') : flags.join(', ')}`,
  );
}

/** Measured and humidity-corrected PM side by side, when the api gives a corrected value. */
function pmCompare(d: DeviceFeature): HTMLElement | '' {
  const rows = (['pm25', 'pm10'] as const).flatMap((m) => {
    const measured = d.properties.values[m];
    const c = correctedOf(d.properties, m);
    return measured === undefined || !c ? [] : [{ m, measured, c }];
  });
  if (rows.length === 0) return '';
  return h(
    'table',
    { class: 'pm-compare' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('td', {}),
        h('th', { scope: 'col' }, t('measured')),
        h('th', { scope: 'col' }, t('corrected')),
      ),
    ),
    h(
      'tbody',
      {},
      ...rows.map((r) =>
        h(
          'tr',
          { 'data-metric': r.m },
          h('th', { scope: 'row' }, metricName(r.m)),
          h('td', { class: 'measured' }, formatValue(r.m, r.measured)),
          h('td', { class: 'corrected', title: r.c.method ?? '' }, formatValue(r.m, r.c.value)),
        ),
      ),
    ),
  );
}
