import { type Map as MapLibre, type MapMouseEvent, Popup } from 'maplibre-gl';
import type { Devices } from './devices.ts';
import { h } from './dom.ts';
import { bandName, formatNumber, formatValue, metricName, t } from './i18n.ts';
import { shadeFor } from './scale.ts';
import type { Store } from './state.ts';
import type { Car } from './vehicles.ts';

/** A finger is wider than a mouse pointer: kits within this many pixels of a tap count as hit. */
const HIT_PX = 10;

/**
 * Clicks and taps on the map: a kit opens its panel; a car or a cell shows a small popup with what it
 * is. Kits win over cars, cars over cells, as the smaller target is the one aimed at.
 */
export function installPopups(
  map: MapLibre,
  devices: Devices,
  store: Store,
  car: (id: string) => Car | undefined,
): void {
  const popup = new Popup({ closeButton: true, maxWidth: '260px', focusAfterOpen: false });

  const hit = (e: MapMouseEvent, layers: string[], px = 0) => {
    const present = layers.filter(
      (l) => map.getLayer(l) && map.getLayoutProperty(l, 'visibility') !== 'none',
    );
    if (present.length === 0) return [];
    const { x, y } = e.point;
    return map.queryRenderedFeatures(
      px
        ? [
            [x - px, y - px],
            [x + px, y + px],
          ]
        : e.point,
      { layers: present },
    );
  };

  map.on('click', (e) => {
    const kits = hit(e, ['devices-circle'], HIT_PX);
    if (kits.length) {
      // The nearest of the kits under the finger.
      const near = kits
        .map((f) => {
          const [lon, lat] = (f.geometry as GeoJSON.Point).coordinates as [number, number];
          const p = map.project([lon, lat]);
          return { id: String(f.properties.id), d: (p.x - e.point.x) ** 2 + (p.y - e.point.y) ** 2 };
        })
        .sort((a, b) => a.d - b.d)[0]!;
      popup.remove();
      store.set({ selected: near.id });
      return;
    }
    const cars = hit(e, ['vehicles'], HIT_PX);
    if (cars.length) {
      const id = String(cars[0]!.properties.id);
      const c = car(id);
      const state = c?.state ?? String(cars[0]!.properties.state);
      const text =
        state === 'available' ? t('available') : state === 'offline' ? t('offlineCar') : t('inUse');
      const facts: Array<[string, string]> = [];
      if (c?.station) facts.push([t('station'), c.station]);
      if (c?.fuel !== undefined) facts.push([t('fuel'), `${formatNumber(c.fuel, 0)} %`]);
      if (c?.battery !== undefined) facts.push([t('battery'), `${formatNumber(c.battery, 0)} %`]);
      popup
        .setLngLat(e.lngLat)
        .setDOMContent(
          h(
            'div',
            { class: 'popup' },
            h('strong', {}, c?.name ?? devices.get(id)?.properties.name ?? id),
            h('p', {}, text),
            facts.length ? h('dl', {}, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])) : '',
          ),
        )
        .addTo(map);
      return;
    }
    const cells = hit(e, ['cells-fill']);
    if (cells.length) {
      const p = cells[0]!.properties as { mean: number; max: number; count: number; devices: number };
      const metric = store.state.metric;
      const shade = shadeFor(metric, p.mean);
      popup
        .setLngLat(e.lngLat)
        .setDOMContent(
          h(
            'div',
            { class: 'popup' },
            h('strong', {}, metricName(metric)),
            shade?.indexed
              ? h(
                  'p',
                  {},
                  h(
                    'span',
                    { class: 'chip', style: `--c:${shade.color}` },
                    h('b', {}, String(shade.level)),
                    bandName(shade.label),
                  ),
                )
              : null,
            h(
              'dl',
              {},
              h('dt', {}, t('mean')),
              h('dd', {}, formatValue(metric, p.mean)),
              h('dt', {}, t('max')),
              h('dd', {}, formatValue(metric, p.max)),
              h('dt', {}, t('readings')),
              h('dd', {}, formatNumber(p.count, 0)),
              h('dt', {}, t('devices')),
              h('dd', {}, formatNumber(p.devices, 0)),
            ),
          ),
        )
        .addTo(map);
      return;
    }
    popup.remove();
  });

  for (const layer of ['devices-circle', 'vehicles', 'cells-fill']) {
    map.on('mouseenter', layer, () => {
      map.getCanvas().style.cursor = 'pointer';
    });
    map.on('mouseleave', layer, () => {
      map.getCanvas().style.cursor = '';
    });
  }
}
