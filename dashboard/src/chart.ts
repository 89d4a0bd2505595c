import { type Metric, WHO_NOISE_GUIDELINES } from '@citytel/contract';
import type { SeriesAnswer } from './api.ts';
import { bandName, formatDay, formatNumber, formatTime, formatValue, metricName, t } from './i18n.ts';
import { legendRows, shadeFor } from './scale.ts';

/**
 * A time series as a small SVG: the band stripes behind (so a value reads against its band without
 * relying on colour alone), a line with gaps where buckets are empty, one dot per bucket in its band's
 * colour, and the WHO road-traffic guideline for noise. Hand-drawn: a chart library would outweigh the page.
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

export function renderChart(series: SeriesAnswer, metric: Metric): SVGSVGElement {
  const pts = series.points
    .map((p) => ({ t: Date.parse(p.t), v: p.v }))
    .filter((p) => Number.isFinite(p.t))
    .sort((a, b) => a.t - b.t);
  const values = pts.flatMap((p) => (typeof p.v === 'number' ? [p.v] : []));
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart-svg' });
  if (pts.length === 0) return svg;

  const step = pts.length > 1 ? pts[1]!.t - pts[0]!.t : 3_600_000;
  const x0 = pts[0]!.t;
  const x1 = pts[pts.length - 1]!.t + step;
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const floor = metric === 'noise_laeq' ? Math.min(35, lo - 5) : metric === 'temperature' ? lo - 2 : 0;
  const yStep = niceStep(Math.max(hi * 1.1 - floor, 1), 4);
  const y0 = Math.floor(floor / yStep) * yStep;
  const y1 = Math.max(Math.ceil((hi * 1.05) / yStep) * yStep, y0 + yStep);
  const X = (ms: number) => M.l + ((ms - x0) / (x1 - x0)) * (W - M.l - M.r);
  const Y = (v: number) => H - M.b - ((v - y0) / (y1 - y0)) * (H - M.t - M.b);

  const clip = `clip-${Math.random().toString(36).slice(2)}`;
  el(
    'rect',
    { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b },
    el('clipPath', { id: clip }, svg),
  );
  const plot = el('g', { 'clip-path': `url(#${clip})` }, svg);
  for (const row of legendRows(metric).rows) {
    const top = Y(row.to ?? y1);
    const bottom = Y(row.from ?? y0);
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

  const axis = el('g', { class: 'axis' }, svg);
  for (let v = y0; v <= y1 + 1e-9; v += yStep) {
    el('line', { x1: M.l, x2: W - M.r, y1: Y(v), y2: Y(v), class: 'grid' }, axis);
    el('text', { x: M.l - 4, y: Y(v) + 3, 'text-anchor': 'end' }, axis).textContent = formatNumber(v, 1);
  }
  const span = x1 - x0;
  const tick = span > 2 * 86_400_000 ? 86_400_000 : span > 12 * 3_600_000 ? 6 * 3_600_000 : 3_600_000;
  const tz = new Date().getTimezoneOffset() * 60_000;
  for (let ms = Math.ceil((x0 - tz) / tick) * tick + tz; ms < x1; ms += tick) {
    el('line', { x1: X(ms), x2: X(ms), y1: M.t, y2: H - M.b, class: 'grid' }, axis);
    el('text', { x: X(ms), y: H - 6, 'text-anchor': 'middle' }, axis).textContent =
      tick >= 86_400_000 ? formatDay(ms) : formatTime(ms);
  }

  if (metric === 'noise_laeq' && WHO_NOISE_GUIDELINES.lden > y0 && WHO_NOISE_GUIDELINES.lden < y1) {
    const y = Y(WHO_NOISE_GUIDELINES.lden);
    el('line', { x1: M.l, x2: W - M.r, y1: y, y2: y, class: 'who' }, plot);
    el('text', { x: W - M.r - 2, y: y - 3, 'text-anchor': 'end', class: 'who-label' }, svg).textContent =
      `${t('whoShort')} ${WHO_NOISE_GUIDELINES.lden}`;
  }

  let d = '';
  let pen = false;
  for (const p of pts) {
    if (typeof p.v !== 'number') {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${X(p.t + step / 2).toFixed(1)},${Y(p.v).toFixed(1)}`;
    pen = true;
  }
  el('path', { d, class: 'line' }, plot);
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
          min: formatValue(metric, lo),
          max: formatValue(metric, hi),
          last: last && typeof last.v === 'number' ? formatValue(metric, last.v) : '—',
        })
      : t('noData'),
  );
  return svg;
}
