import { METRICS, type Metric, WHO_NOISE_GUIDELINES } from '@citytel/contract';
import { byId, h } from './dom.ts';
import { bandName, formatNumber, metricName, t } from './i18n.ts';
import { inkFor, legendRows } from './scale.ts';

/**
 * The legend of the measure shown: each band with its number (the one drawn on the map), its name and
 * its range, so that no band is told apart by colour alone; the WHO guideline for noise. Each row carries
 * `data-band` (the contract's label) and `data-level` for tests and styling.
 */
export function renderLegend(metric: Metric): void {
  const root = byId('legend-body');
  const { kind, rows } = legendRows(metric);
  const unit = METRICS[metric].unit;
  const range = (from: number | null, to: number | null) => {
    // EAQI bounds are upper-inclusive (≤ 5); noise classes start at their bound (40–44 means [40, 45)).
    if (kind === 'noise') return '';
    if (from === null) return `≤ ${formatNumber(to!)}`;
    if (to === null) return `> ${formatNumber(from)}`;
    return `${formatNumber(from)}–${formatNumber(to)}`;
  };
  const rampRange = (from: number | null, to: number | null) =>
    from === null
      ? `< ${formatNumber(to!)}`
      : to === null
        ? `≥ ${formatNumber(from)}`
        : `${formatNumber(from)}–${formatNumber(to)}`;

  byId('legend').dataset.metric = metric;
  byId('legend-title').textContent = `${metricName(metric)} (${unit})`;
  const list = h(
    'ol',
    { class: `legend-rows ${kind}` },
    ...rows.map((r) =>
      h(
        'li',
        { 'data-band': r.label || undefined, 'data-level': r.level || undefined },
        h(
          'span',
          { class: 'swatch', style: `--c:${r.color};--fg:${inkFor(r.color)}`, 'aria-hidden': 'true' },
          r.level ? String(r.level) : '',
        ),
        h('span', { class: 'name' }, r.label ? bandName(r.label) : rampRange(r.from, r.to)),
        r.label ? h('span', { class: 'range' }, range(r.from, r.to)) : null,
      ),
    ),
  );
  root.replaceChildren(
    h('p', { class: 'legend-kind' }, t(kind)),
    list,
    kind === 'noise'
      ? h('p', { class: 'who' }, h('span', { class: 'who-mark', 'aria-hidden': 'true' }), t('who'))
      : '',
    kind !== 'ramp' ? h('p', { class: 'muted small' }, t('bandNumbers')) : '',
  );
  if (kind === 'noise') {
    // The guideline sits between the 50–54 and 55–59 classes: mark the row it falls in.
    const row = rows.find(
      (r) =>
        (r.from ?? -Infinity) <= WHO_NOISE_GUIDELINES.lden && WHO_NOISE_GUIDELINES.lden < (r.to ?? Infinity),
    );
    if (row) root.querySelector(`li[data-level="${row.level}"]`)?.classList.add('who-row');
  }
}
