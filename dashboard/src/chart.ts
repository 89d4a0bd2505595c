import { type Metric, WHO_NOISE_GUIDELINES } from '@citytel/contract';
import type { SeriesAnswer } from './api.ts';
import { h } from './dom.ts';
import {
  bandName,
  formatDay,
  formatNumber,
  formatTime,
  formatValue,
  metricName,
  t,
  timeZone,
} from './i18n.ts';
import { legendRows, shadeFor } from './scale.ts';
import { tickStepHours, timeTicks } from './ticks.ts';

/**
 * Small SVG charts, hand-drawn (a chart library would outweigh the page): a kit's time series against the
 * city's median, with its band stripes behind; and bar charts (the average day, daily noise indicators)
 * with reference marks. Each comes with its data as a table, for screen readers and anyone who wants the
 * numbers.
 */

const W = 320;
const H = 150;
const M = { l: 34, r: 8, t: 8, b: 20 };
const SVG = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  parent?: Element,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.append(e);
  return e;
}

/** 1, 2 or 5 times a power of ten: the step of `n` ticks over `span`. */
function niceStep(span: number, n: number): number {
  const raw = span / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/** The value axis for `values` of `metric`: noise from 35 dB, temperature around its values, else from 0. */
function valueAxis(metric: Metric, values: number[], marks: number[] = []) {
  const all = [...values, ...marks];
  const lo = all.length ? Math.min(...all) : 0;
  const hi = all.length ? Math.max(...all) : 1;
  const floor = metric === 'noise_laeq' ? Math.min(35, lo - 5) : metric === 'temperature' ? lo - 2 : 0;
  const step = niceStep(Math.max(hi * 1.1 - floor, 1), 4);
  const y0 = Math.floor(floor / step) * step;
  const y1 = Math.max(Math.ceil((hi * 1.05) / step) * step, y0 + step);
  const Y = (v: number) => H - M.b - ((v - y0) / (y1 - y0)) * (H - M.t - M.b);
  return { y0, y1, step, Y };
}

function drawValueAxis(svg: SVGSVGElement, axis: ReturnType<typeof valueAxis>): SVGGElement {
  const g = el('g', { class: 'axis' }, svg);
  for (let v = axis.y0; v <= axis.y1 + 1e-9; v += axis.step) {
    el('line', { x1: M.l, x2: W - M.r, y1: axis.Y(v), y2: axis.Y(v), class: 'grid' }, g);
    el('text', { x: M.l - 4, y: axis.Y(v) + 3, 'text-anchor': 'end' }, g).textContent = formatNumber(v, 1);
  }
  return g;
}

function bandStripes(plot: SVGGElement, metric: Metric, axis: ReturnType<typeof valueAxis>) {
  for (const row of legendRows(metric).rows) {
    const top = axis.Y(row.to ?? axis.y1);
    const bottom = axis.Y(row.from ?? axis.y0);
    if (bottom < M.t || top > H - M.b) continue;
    el(
      'rect',
      {
        x: M.l,
        y: top,
        width: W - M.l - M.r,
        height: Math.max(0, bottom - top),
        fill: row.color,
        opacity: 0.2,
      },
      plot,
    );
  }
}

function clipped(svg: SVGSVGElement): SVGGElement {
  const clip = `clip-${Math.random().toString(36).slice(2)}`;
  el(
    'rect',
    { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b },
    el('clipPath', { id: clip }, svg),
  );
  return el('g', { 'clip-path': `url(#${clip})` }, svg);
}

/** A reference line across the plot with its label at the right end. */
function mark(svg: SVGSVGElement, plot: SVGGElement, y: number, label: string, cls: string) {
  el('line', { x1: M.l, x2: W - M.r, y1: y, y2: y, class: cls }, plot);
  el('text', { x: W - M.r - 2, y: y - 3, 'text-anchor': 'end', class: 'who-label' }, svg).textContent = label;
}

/** A table of the chart's data, folded under a summary: what a screen reader reads instead of the SVG. */
export function dataTable(caption: string, head: string[], rows: Array<Array<string>>): HTMLDetailsElement {
  return h(
    'details',
    { class: 'chart-table' },
    h('summary', {}, t('chartTable')),
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, ...head.map((x) => h('th', { scope: 'col' }, x)))),
      h(
        'tbody',
        {},
        ...rows.map(([first, ...rest]) =>
          h('tr', {}, h('th', { scope: 'row' }, first ?? ''), ...rest.map((c) => h('td', {}, c))),
        ),
      ),
    ),
  );
}

type Points = SeriesAnswer['points'];

/**
 * A kit's series (dots in their band's colour, a line with gaps where buckets are empty) and, when given,
 * the city's median of the same metric as a dashed line; ticks at local hours of the city's zone.
 */
export function renderChart(series: SeriesAnswer, metric: Metric, city?: Points): SVGSVGElement {
  const parse = (ps: Points) =>
    ps
      .map((p) => ({ t: Date.parse(p.t), v: p.v }))
      .filter((p) => Number.isFinite(p.t))
      .sort((a, b) => a.t - b.t);
  const pts = parse(series.points);
  const cityPts = city ? parse(city) : [];
  const values = pts.flatMap((p) => (typeof p.v === 'number' ? [p.v] : []));
  const cityValues = cityPts.flatMap((p) => (typeof p.v === 'number' ? [p.v] : []));
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart-svg' });
  if (pts.length === 0) return svg;

  const step = pts.length > 1 ? pts[1]!.t - pts[0]!.t : 3_600_000;
  const x0 = pts[0]!.t;
  const x1 = pts[pts.length - 1]!.t + step;
  const axis = valueAxis(metric, [...values, ...cityValues]);
  const { Y } = axis;
  const X = (ms: number) => M.l + ((ms - x0) / (x1 - x0)) * (W - M.l - M.r);

  const plot = clipped(svg);
  bandStripes(plot, metric, axis);
  const g = drawValueAxis(svg, axis);
  const stepH = tickStepHours(x1 - x0);
  for (const ms of timeTicks(x0, x1, timeZone(), stepH)) {
    el('line', { x1: X(ms), x2: X(ms), y1: M.t, y2: H - M.b, class: 'grid' }, g);
    el('text', { x: X(ms), y: H - 6, 'text-anchor': 'middle' }, g).textContent =
      stepH >= 24 ? formatDay(ms) : formatTime(ms);
  }
  if (metric === 'noise_laeq' && WHO_NOISE_GUIDELINES.lden > axis.y0 && WHO_NOISE_GUIDELINES.lden < axis.y1) {
    mark(svg, plot, Y(WHO_NOISE_GUIDELINES.lden), `${t('whoShort')} ${WHO_NOISE_GUIDELINES.lden}`, 'who');
  }

  const path = (ps: typeof pts, cls: string, offset: number) => {
    let d = '';
    let pen = false;
    for (const p of ps) {
      if (typeof p.v !== 'number') {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${X(p.t + offset).toFixed(1)},${Y(p.v).toFixed(1)}`;
      pen = true;
    }
    if (d) el('path', { d, class: cls }, plot);
  };
  if (cityPts.length) {
    const cityStep = cityPts.length > 1 ? cityPts[1]!.t - cityPts[0]!.t : step;
    path(cityPts, 'city-line', cityStep / 2);
  }
  path(pts, 'line', step / 2);
  const dots = el('g', { class: 'dots' }, plot);
  for (const p of pts) {
    if (typeof p.v !== 'number') continue;
    const shade = shadeFor(metric, p.v);
    const c = el(
      'circle',
      { cx: X(p.t + step / 2), cy: Y(p.v), r: 2.6, fill: shade?.color ?? '#6b7c93' },
      dots,
    );
    c.dataset.v = String(p.v);
    el('title', {}, c).textContent =
      `${formatTime(p.t)} — ${formatValue(metric, p.v)}${shade?.label ? ` (${bandName(shade.label)})` : ''}`;
  }

  const last = [...pts].reverse().find((p) => typeof p.v === 'number');
  svg.setAttribute(
    'aria-label',
    values.length
      ? t('chartSummary', {
          metric: metricName(metric),
          n: values.length,
          min: formatValue(metric, Math.min(...values)),
          max: formatValue(metric, Math.max(...values)),
          last: last && typeof last.v === 'number' ? formatValue(metric, last.v) : '—',
        })
      : t('noData'),
  );
  return svg;
}

/** The series' table: one row per bucket with a value (the kit's or the city's). */
export function seriesTable(series: SeriesAnswer, metric: Metric, city?: Points): HTMLDetailsElement {
  const cityAt = new Map((city ?? []).map((p) => [Date.parse(p.t), p.v]));
  const rows: string[][] = [];
  const withDay = series.points.length > 0 && series.every.endsWith('h');
  for (const p of series.points) {
    const ms = Date.parse(p.t);
    const c = cityAt.get(ms);
    if (typeof p.v !== 'number' && typeof c !== 'number') continue;
    const cells = [formatTime(ms, withDay), typeof p.v === 'number' ? formatValue(metric, p.v) : '—'];
    if (city) cells.push(typeof c === 'number' ? formatValue(metric, c) : '—');
    rows.push(cells);
  }
  const head = [t('time'), t('chartKit'), ...(city ? [t('chartCity')] : [])];
  return dataTable(metricName(metric), head, rows);
}

export interface BarSeries {
  name: string;
  cls: string;
  values: Array<number | null>;
}

/**
 * Bars per category (hours of the day, days), one per series side by side, coloured by band when `band`;
 * `marks` are reference lines (the WHO's).
 */
export function renderBars(opts: {
  metric: Metric;
  labels: string[];
  /** Show every n-th label. */
  labelEvery: number;
  series: BarSeries[];
  band: boolean;
  marks?: Array<{ value: number; label: string; cls: string }>;
  summary: string;
}): SVGSVGElement {
  const { metric, labels, series } = opts;
  const values = series.flatMap((s) => s.values.filter((v): v is number => typeof v === 'number'));
  const svg = el('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    class: 'chart-svg bars',
    'aria-label': opts.summary,
  });
  const axis = valueAxis(
    metric,
    values,
    (opts.marks ?? []).map((m) => m.value),
  );
  const plot = clipped(svg);
  if (opts.band) bandStripes(plot, metric, axis);
  const g = drawValueAxis(svg, axis);
  const slot = (W - M.l - M.r) / Math.max(1, labels.length);
  const bw = (slot * 0.8) / series.length;
  labels.forEach((label, i) => {
    if (i % opts.labelEvery === 0) {
      el('text', { x: M.l + slot * (i + 0.5), y: H - 6, 'text-anchor': 'middle' }, g).textContent = label;
    }
    series.forEach((s, k) => {
      const v = s.values[i];
      if (typeof v !== 'number') return;
      const y = axis.Y(v);
      const bar = el(
        'rect',
        {
          x: M.l + slot * i + slot * 0.1 + bw * k,
          y,
          width: bw,
          height: Math.max(0, H - M.b - y),
          class: s.cls,
          ...(opts.band ? { fill: shadeFor(metric, v)?.color ?? '#6b7c93' } : {}),
        },
        plot,
      );
      bar.dataset.v = String(v);
      el('title', {}, bar).textContent = `${label} — ${s.name}: ${formatValue(metric, v)}`;
    });
  });
  for (const m of opts.marks ?? []) {
    if (m.value > axis.y0 && m.value < axis.y1) mark(svg, plot, axis.Y(m.value), m.label, m.cls);
  }
  return svg;
}
