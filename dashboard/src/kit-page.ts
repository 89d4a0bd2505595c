import { type Metric, WHO_NOISE_GUIDELINES } from '@citytel/contract';
import { API_BASE, hourProfile, isAbort, noiseIndicators, query } from './api.ts';
import { dataTable, renderBars } from './chart.ts';
import { h } from './dom.ts';
import { formatDate, formatNumber, formatValue, metricName, t, timeZone } from './i18n.ts';
import type { Window } from './state.ts';

/**
 * The parts of a kit's page beyond its latest values and chart: its average day, its daily noise
 * indicators against the WHO's marks, and links (back to the map on this kit, its open data). Each part
 * reads its own api route and leaves itself out when the api does not serve it.
 */

let profileDays: 7 | 30 = 7;

/** The kit's average day (hour-of-day profile) over 7 or 30 days, with a switch between the two. */
export async function loadProfile(id: string, metric: Metric, box: HTMLElement, signal: AbortSignal) {
  box.dataset.state = 'loading';
  try {
    const p = await hourProfile(id, metric, profileDays, timeZone(), signal);
    if (!p || p.hours.every((x) => x.v === null)) {
      box.replaceChildren();
      box.hidden = true;
      box.dataset.state = 'absent';
      return;
    }
    const values = p.hours.map((x) => x.v);
    const known = p.hours.filter((x) => x.v !== null) as Array<{ hour: number; v: number }>;
    const low = known.reduce((a, b) => (b.v < a.v ? b : a));
    const high = known.reduce((a, b) => (b.v > a.v ? b : a));
    const hh = (hour: number) => `${String(hour).padStart(2, '0')}:00`;
    const summary = t('profileSummary', {
      metric: metricName(metric),
      days: p.days,
      low: hh(low.hour),
      high: hh(high.hour),
    });
    const switcher = h(
      'div',
      { class: 'seg-buttons', role: 'group', 'aria-label': t('window') },
      ...([7, 30] as const).map((n) => {
        const b = h(
          'button',
          { type: 'button', 'aria-pressed': String(n === profileDays), 'data-days': n },
          t('profileDays', { n }),
        );
        b.addEventListener('click', () => {
          if (profileDays === n) return;
          profileDays = n;
          void loadProfile(id, metric, box, signal);
        });
        return b;
      }),
    );
    box.replaceChildren(
      h('h3', {}, t('profile', { metric: metricName(metric) })),
      switcher,
      h(
        'figure',
        { class: 'chart', 'data-days': p.days },
        renderBars({
          metric,
          labels: p.hours.map((x) => String(x.hour)),
          labelEvery: 3,
          series: [{ name: t('chartKit'), cls: 'bar', values }],
          band: true,
          summary,
        }),
        dataTable(
          summary,
          [t('hour'), metricName(metric)],
          p.hours.map((x) => [hh(x.hour), x.v === null ? '—' : formatValue(metric, x.v)]),
        ),
      ),
    );
    box.hidden = false;
    box.dataset.state = 'ready';
  } catch (err) {
    if (isAbort(err)) return;
    box.hidden = true;
    box.dataset.state = 'error';
  }
}

/** Daily Lden and Lnight of the last 30 days against the WHO's 53 and 45 dB, when the api computes them. */
export async function loadNoiseDays(id: string, box: HTMLElement, signal: AbortSignal) {
  try {
    const days = await noiseIndicators(id, 30, signal);
    if (!days) {
      box.hidden = true;
      box.dataset.state = 'absent';
      return;
    }
    const summary = t('noiseSummary');
    box.replaceChildren(
      h('h3', {}, t('noiseDays')),
      h(
        'figure',
        { class: 'chart' },
        renderBars({
          metric: 'noise_laeq',
          labels: days.map((d) => d.date.slice(8, 10)),
          labelEvery: Math.max(1, Math.ceil(days.length / 8)),
          series: [
            { name: 'Lden', cls: 'bar lden', values: days.map((d) => d.lden) },
            { name: 'Lnight', cls: 'bar lnight', values: days.map((d) => d.lnight) },
          ],
          band: false,
          marks: [
            { value: WHO_NOISE_GUIDELINES.lden, label: t('whoLden'), cls: 'who' },
            { value: WHO_NOISE_GUIDELINES.lnight, label: t('whoLnight'), cls: 'who night' },
          ],
          summary,
        }),
        dataTable(
          summary,
          [t('day'), 'Lden', 'Lnight'],
          days.map((d) => [
            `${formatDate(d.date)}${d.incomplete ? ` (${t('incomplete')})` : ''}`,
            d.lden === null ? '—' : `${formatNumber(d.lden)} dB(A)`,
            d.lnight === null ? '—' : `${formatNumber(d.lnight)} dB(A)`,
          ]),
        ),
      ),
    );
    box.hidden = false;
    box.dataset.state = 'ready';
  } catch (err) {
    if (isAbort(err)) return;
    box.hidden = true;
  }
}

/** The address of the map on kit `id`: the current one (measure, period, position) with the kit. */
export function kitUrl(id: string): string {
  const url = new URL(location.href);
  url.searchParams.set('kit', id);
  return url.href;
}

/** A link back to the map on this kit (its address is read when followed, so it has the latest view). */
export function kitLinks(id: string, metric: Metric, window: Window): HTMLElement {
  const permalink = h('a', { href: kitUrl(id), class: 'permalink', 'data-link': 'kit' }, t('permalink'));
  const refresh = () => permalink.setAttribute('href', kitUrl(id));
  for (const e of ['focus', 'mouseenter', 'pointerdown']) permalink.addEventListener(e, refresh);
  const csv = h(
    'a',
    {
      href: `${API_BASE}/api/v1/export?${query({ device: id, metric, from: `-${window === '7d' ? '7d' : '24h'}`, format: 'csv' })}`,
      'data-link': 'kit-export',
    },
    t('exportKit'),
  );
  return h('p', { class: 'kit-links' }, permalink, ' · ', csv);
}
