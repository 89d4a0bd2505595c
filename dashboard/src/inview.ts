import type { Map as MapLibre } from 'maplibre-gl';
import type { Devices } from './devices.ts';
import { byId, h } from './dom.ts';
import { bandName, formatValue, metricName, t, tn } from './i18n.ts';
import { shadeFor } from './scale.ts';
import type { Store } from './state.ts';
import { getData } from './style.ts';

/** Most kits and areas listed; past that, the list asks to zoom in. */
const MAX_ITEMS = 60;

export interface InView {
  /** Lists again what the map shows now. */
  refresh(): void;
}

/**
 * What is on the map, as a list: every kit and area in view with its value and band, each a button (a kit
 * opens its page, an area brings the map to it). The keyboard and screen-reader path to what a pointer
 * reaches by clicking the map.
 */
export function createInView(map: MapLibre, devices: Devices, store: Store): InView {
  const root = byId<HTMLDetailsElement>('inview');
  const count = byId('inview-count');
  const body = byId('inview-body');

  const valueText = (v: number | undefined) => {
    const m = store.state.metric;
    if (v === undefined) return t('noValue');
    const shade = shadeFor(m, v);
    return `${formatValue(m, v)}${shade?.indexed ? ` · ${bandName(shade.label)} (${shade.level})` : ''}`;
  };

  let drawn = '';
  const refresh = () => {
    const b = map.getBounds();
    const m = store.state.metric;
    const kits = devices
      .all()
      .filter((d) => d.geometry && d.properties.kind !== 'vehicle')
      .filter((d) => b.contains(d.geometry!.coordinates as [number, number]));
    kits.sort((a, c) => (c.properties.values[m] ?? -Infinity) - (a.properties.values[m] ?? -Infinity));
    const cells = store.state.layers.cells
      ? getData('cells').features.filter((f) => {
          const ring = (f.geometry as GeoJSON.Polygon).coordinates[0] ?? [];
          return ring.some((p) => b.contains(p as [number, number]));
        })
      : [];
    cells.sort((a, c) => Number(c.properties?.mean ?? 0) - Number(a.properties?.mean ?? 0));
    count.textContent = `${tn('inViewKits', kits.length)}, ${tn('inViewCells', cells.length)}`;
    root.dataset.kits = String(kits.length);
    root.dataset.cells = String(cells.length);
    if (!root.open) return;

    const kitItems = kits.slice(0, MAX_ITEMS).map((d) => {
      const button = h(
        'button',
        {
          type: 'button',
          class: 'item',
          'data-device': d.id,
          'aria-pressed': String(store.state.selected === d.id),
        },
        h('span', { class: 'name' }, d.properties.name ?? d.id),
        h('span', { class: 'val' }, valueText(d.properties.values[m])),
      );
      button.addEventListener('click', () => store.set({ selected: d.id }));
      return h('li', {}, button);
    });
    const cellItems = cells.slice(0, MAX_ITEMS).map((f) => {
      const p = f.properties as { cell: string; mean: number; devices: number };
      const button = h(
        'button',
        { type: 'button', class: 'item', 'data-cell': p.cell },
        h('span', { class: 'name' }, t('cellLabel', { cell: p.cell })),
        h('span', { class: 'val' }, `${valueText(p.mean)} · ${tn('inViewKits', p.devices)}`),
      );
      button.addEventListener('click', () => {
        const ring = (f.geometry as GeoJSON.Polygon).coordinates[0]!;
        const lons = ring.map((q) => q[0]!);
        const lats = ring.map((q) => q[1]!);
        map.fitBounds(
          [
            [Math.min(...lons), Math.min(...lats)],
            [Math.max(...lons), Math.max(...lats)],
          ],
          { padding: 40, maxZoom: 16, duration: 0 },
        );
      });
      return h('li', {}, button);
    });
    // Live updates redraw the list often: unchanged, it is left alone; changed, the focus stays on the
    // same kit or area, so a keyboard user is never thrown back to the top.
    const signature = [
      m,
      ...kits
        .slice(0, MAX_ITEMS)
        .map((d) => `${d.id}:${d.properties.values[m]}:${store.state.selected === d.id}`),
      ...cells
        .slice(0, MAX_ITEMS)
        .map((f) => `${f.properties?.cell}:${f.properties?.mean}:${f.properties?.devices}`),
    ].join('|');
    if (signature === drawn) return;
    drawn = signature;
    const active = document.activeElement;
    const focused = active instanceof HTMLElement && body.contains(active) ? active : null;
    const key = focused?.dataset.device
      ? `[data-device="${CSS.escape(focused.dataset.device)}"]`
      : focused?.dataset.cell
        ? `[data-cell="${CSS.escape(focused.dataset.cell)}"]`
        : null;
    body.replaceChildren(
      h('p', { class: 'muted small' }, t('inViewHint')),
      h('h3', { id: 'inview-kits' }, `${t('kits')} — ${metricName(m)}`),
      kitItems.length ? h('ul', { class: 'inview-list', 'aria-labelledby': 'inview-kits' }, ...kitItems) : '',
      h('h3', { id: 'inview-cells' }, t('cells')),
      cellItems.length
        ? h('ul', { class: 'inview-list', 'aria-labelledby': 'inview-cells' }, ...cellItems)
        : '',
      kits.length > MAX_ITEMS || cells.length > MAX_ITEMS
        ? h('p', { class: 'muted small' }, t('inViewMore'))
        : '',
    );
    if (key) body.querySelector<HTMLElement>(key)?.focus();
  };

  root.addEventListener('toggle', () => {
    drawn = '';
    refresh();
  });
  return { refresh };
}
