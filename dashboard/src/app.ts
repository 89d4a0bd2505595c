import 'maplibre-gl/dist/maplibre-gl.css';
import {
  AttributionControl,
  GeolocateControl,
  LngLatBounds,
  Map as MapLibre,
  NavigationControl,
  ScaleControl,
} from 'maplibre-gl';
import { API_BASE, type LiveReading, query } from './api.ts';
import { applyBase, loadBaseStyle, loadFallbackStyle, loadRuntimeConfig } from './basemap.ts';
import { createCells } from './cells.ts';
import { createControls } from './controls.ts';
import { createDevices } from './devices.ts';
import { byId } from './dom.ts';
import { currentLang, type Key, setLang, setTimeZone, t, tn, translateDom } from './i18n.ts';
import { installIcons } from './icons.ts';
import { createInView } from './inview.ts';
import { renderLegend } from './legend.ts';
import { connectLive, type LiveStatus } from './live.ts';
import { createPanel } from './panel.ts';
import { installPopups } from './popups.ts';
import { askedKit, createStore } from './state.ts';
import { composeStyle, setData, setView, syncStyle } from './style.ts';
import { throttle } from './throttle.ts';
import { loadTrack } from './track.ts';
import { createVehicles } from './vehicles.ts';

/** Kits and cells are read again this often, so that silent kits fade and the aggregates stay exact. */
const REFRESH_MS = 60_000;
/** Live changes are drawn at most this often. */
const LIVE_DRAW_MS = 500;
/** After live readings, the cells are read again once this much later (InfluxDB has them by then). */
const CELLS_AFTER_LIVE_MS = 20_000;

declare global {
  interface Window {
    /** For the end-to-end test and curious people: the map and the page state. */
    citytel?: { map: MapLibre; state: ReturnType<typeof createStore>['state'] };
  }
}

function softwareRenderer(canvas: HTMLCanvasElement): boolean {
  const gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
  if (!gl) return false;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  return /swiftshader|llvmpipe|software/i.test(renderer);
}

/** Notes that only inform (the street map is replaced) fade after this long; errors stay. */
const INFO_NOTE_MS = 12_000;
let noteTimer: ReturnType<typeof setTimeout> | undefined;

const note = (key: Key | null) => {
  const el = byId('note');
  el.hidden = key === null;
  el.textContent = key ? t(key) : '';
  el.dataset.key = key ?? '';
  clearTimeout(noteTimer);
  if (key === 'basemapOff' || key === 'basemapOffCity') {
    noteTimer = setTimeout(() => {
      if (el.dataset.key === key) note(null);
    }, INFO_NOTE_MS);
  }
};

export async function start(): Promise<void> {
  translateDom();
  const store = createStore();
  const devices = createDevices();
  const config = await loadRuntimeConfig();
  setTimeZone(config.timeZone);
  const fallback = await loadFallbackStyle(config.fallback);
  const hadView = /(^#|&)map=/.test(location.hash);

  let map: MapLibre;
  try {
    map = new MapLibre({
      container: 'map',
      style: composeStyle(fallback),
      center: config.center ?? [8, 48],
      zoom: config.zoom ?? 4,
      hash: 'map',
      // Symbols appear at once: no fade animation repainting the map for a third of a second.
      fadeDuration: 0,
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      maxPitch: 0,
    });
  } catch {
    note('noWebgl');
    renderLegend(store.state.metric);
    return;
  }
  // A device without a usable GPU draws WebGL in software (SwiftShader, llvmpipe): there a frame at the
  // screen's full pixel ratio costs several times one at 1, so the map is drawn at 1.
  if (softwareRenderer(map.getCanvas())) map.setPixelRatio(1);
  const loaded = new Promise<void>((resolve) => map.once('load', () => resolve()));
  window.citytel = { map, state: store.state };
  installIcons(map);
  map.addControl(new NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new GeolocateControl({ fitBoundsOptions: { maxZoom: 15 } }), 'top-right');
  map.addControl(new ScaleControl({}), 'bottom-right');
  map.addControl(
    new AttributionControl({
      compact: true,
      customAttribution: t('dataCredit', { license: config.license }),
    }),
    'bottom-right',
  );
  map.on('error', (e: { sourceId?: string; error?: Error }) => {
    // Tiles of an unreachable basemap fail one by one: applyBase gives it up; the rest is worth a line.
    if (e.sourceId && !['cells', 'devices', 'track', 'vehicles'].includes(e.sourceId)) return;
    console.warn('map:', e.error?.message ?? e);
  });

  const q = () => ({ metric: store.state.metric, window: store.state.window, to: store.state.replayAt });
  let drawn: Promise<void> = Promise.resolve();
  const cells = createCells(map, (s) => {
    const current = byId('note').dataset.key;
    if (s === 'error') note('dataError');
    else if (s === 'empty') note('noCells');
    else if (current === 'dataError' || current === 'noCells') note(null);
  });
  const refreshCells = (force = false) => {
    drawn = cells.refresh(q(), force);
    return drawn;
  };

  const drawDevices = throttle(
    () => setData(map, 'devices', devices.layerData(store.state.metric, store.state.selected)),
    LIVE_DRAW_MS,
  );

  let trackAbort: AbortController | undefined;
  const panel = createPanel(store, devices, (device, metric) => {
    trackAbort?.abort();
    setData(map, 'track', { type: 'FeatureCollection', features: [] });
    if (!device) return;
    const abort = new AbortController();
    trackAbort = abort;
    loadTrack(device.id, metric, abort.signal)
      .then((fc) => {
        if (!abort.signal.aborted) setData(map, 'track', fc);
      })
      .catch(() => {});
  });

  const controls = createControls(store, {
    whenDrawn: () => drawn,
    onFind(id) {
      const d = devices.get(id);
      if (d?.geometry) {
        const [lon, lat] = d.geometry.coordinates as [number, number];
        map.flyTo({ center: [lon, lat], zoom: Math.max(map.getZoom(), 15) });
      }
      store.set({ selected: id });
    },
    onLang() {
      setLang(currentLang() === 'fr' ? 'en' : 'fr');
      const url = new URL(location.href);
      url.searchParams.set('lang', currentLang());
      history.replaceState(history.state, '', url);
      translateDom();
      controls.render();
      renderLegend(store.state.metric);
      panel.render();
      showLive();
      map.getCanvas().setAttribute('aria-label', t('mapLabel'));
    },
  });
  controls.render();
  renderLegend(store.state.metric);
  // On a phone the legend starts folded (one tap opens it): the map needs the room.
  if (matchMedia('(max-width: 640px)').matches) byId<HTMLDetailsElement>('legend').open = false;

  const vehicles = createVehicles(map, (yes) => {
    controls.showCarsToggle(yes);
    setView(map, { visible: { cars: yes && store.state.layers.cars } });
  });
  installPopups(map, devices, store, (id) => vehicles.get(id));
  const inView = createInView(map, devices, store);
  const listInView = throttle(() => {
    inView.refresh();
    showExportLink();
  }, LIVE_DRAW_MS);
  /** The export of what is on screen: this box, this measure, this period. */
  const showExportLink = () => {
    const b = map.getBounds();
    const r = (v: number) => Math.round(v * 1e4) / 1e4;
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(r);
    const href = `${API_BASE}/api/v1/export?${query({
      metric: store.state.metric,
      from: `-${store.state.window}`,
      bbox: [
        Math.max(-180, bbox[0]!),
        Math.max(-90, bbox[1]!),
        Math.min(180, bbox[2]!),
        Math.min(90, bbox[3]!),
      ].join(','),
      format: 'csv',
    })}`;
    byId<HTMLAnchorElement>('link-export').href = href;
  };
  byId<HTMLAnchorElement>('link-docs').href = `${API_BASE}/docs`;
  byId<HTMLAnchorElement>('link-gbfs').href = `${API_BASE}/gbfs/gbfs.json`;
  map.on('moveend', listInView);
  map.on('sourcedata', (e: { sourceId?: string; isSourceLoaded?: boolean }) => {
    if ((e.sourceId === 'cells' || e.sourceId === 'devices') && e.isSourceLoaded) listInView();
  });

  /**
   * A kit just opened stays in sight: the map moves it out from under the panel (a bottom sheet on a
   * phone). Called after the panel's own listener has shown it, so its box is the one on screen.
   */
  const keepVisible = (id: string) => {
    const d = devices.get(id);
    if (!d?.geometry) return;
    const panel = byId('panel').getBoundingClientRect();
    const box = map.getContainer().getBoundingClientRect();
    const p = map.project(d.geometry.coordinates as [number, number]);
    const x = box.left + p.x;
    const y = box.top + p.y;
    const margin = 24;
    if (
      x < panel.left - margin ||
      x > panel.right + margin ||
      y < panel.top - margin ||
      y > panel.bottom + margin
    ) {
      return;
    }
    const sheet = panel.width > box.width * 0.8;
    const dx = sheet ? 0 : x - (box.left + panel.left) / 2;
    const dy = sheet ? y - (box.top + panel.top) / 2 : 0;
    map.panBy([dx, dy]);
  };
  // The panel grows as its chart arrives: the kit is kept clear of it until the person moves the map.
  let keep = false;
  map.on('movestart', (e: { originalEvent?: unknown }) => {
    if (e.originalEvent) keep = false;
  });
  new ResizeObserver(() => {
    if (keep && store.state.selected) keepVisible(store.state.selected);
  }).observe(byId('panel'));

  store.on((s, changed) => {
    if (changed.has('selected') && s.selected) {
      keep = true;
      keepVisible(s.selected);
    }
    if (changed.has('metric')) renderLegend(s.metric);
    if (changed.has('metric') || changed.has('selected')) drawDevices();
    if (changed.has('replayAt')) {
      setView(map, { replay: s.replayAt !== null });
      showLive();
    }
    if (changed.has('layers')) {
      setView(map, {
        visible: { cells: s.layers.cells, kits: s.layers.kits, cars: s.layers.cars && vehicles.available },
      });
    }
    if (changed.has('metric') || changed.has('window') || changed.has('replayAt')) void refreshCells(true);
    listInView();
  });

  let liveStatus: LiveStatus = 'connecting';
  let liveEvents = 0;
  const showLive = () => {
    const el = byId('live');
    const replaying = store.state.replayAt !== null;
    el.dataset.state = replaying ? 'replay' : liveStatus;
    el.dataset.events = String(liveEvents);
    byId('live-text').textContent = replaying
      ? t('replaying')
      : t(liveStatus === 'live' ? 'live' : liveStatus);
    el.title = tn('updates', liveEvents);
  };

  let reloadDevices: ReturnType<typeof setTimeout> | undefined;
  let cellsAfterLive: ReturnType<typeof setTimeout> | undefined;
  const loadDevices = async () => {
    try {
      await devices.load();
      controls.setKits(devices);
      drawDevices();
      if (store.state.selected) panel.update(store.state.selected);
    } catch {
      note('dataError');
    }
  };

  const onReading = (r: LiveReading) => {
    liveEvents++;
    showLive();
    const d = devices.applyReading(r);
    if (!d) {
      // A kit registered since the list was read: read it again, once for a burst of newcomers.
      clearTimeout(reloadDevices);
      reloadDevices = setTimeout(loadDevices, 3000);
      return;
    }
    drawDevices();
    panel.update(d.id);
    if (cells.applyReading(r, q())) {
      clearTimeout(cellsAfterLive);
      cellsAfterLive = setTimeout(() => void refreshCells(true), CELLS_AFTER_LIVE_MS);
    }
  };

  map.on('load', async () => {
    syncStyle(map);
    // On a phone the credits start folded behind their (i) button: spread out they cover the legend.
    if (matchMedia('(max-width: 640px)').matches) {
      map
        .getContainer()
        .querySelector('.maplibregl-ctrl-attrib')
        ?.classList.remove('maplibregl-compact-show');
    }
    map.getCanvas().setAttribute('aria-label', t('mapLabel'));
    map.getContainer().dataset.ready = 'true';
    await loadDevices();
    const kit = askedKit();
    const asked = kit ? devices.get(kit) : undefined;
    if (asked?.geometry && !hadView) {
      map.jumpTo({
        center: asked.geometry.coordinates as [number, number],
        zoom: Math.max(map.getZoom(), 15),
      });
    } else if (!hadView) fitToKits();
    if (asked) store.set({ selected: asked.id });
    listInView();
    void refreshCells(true);
    connectLive({
      reading: onReading,
      vehicle: (v) => {
        liveEvents++;
        showLive();
        if (devices.applyVehicle(v)) drawDevices();
        vehicles.applyLive(v);
      },
      status: (s) => {
        liveStatus = s;
        showLive();
      },
    });
    setInterval(() => {
      void loadDevices();
      if (store.state.replayAt === null) void refreshCells(true);
    }, REFRESH_MS);
  });

  /**
   * The city's kits in view, clear of the cards floating over the map: on a wide screen the controls and
   * legend on the left; on a phone the controls above and the folded legend below. The padding is read
   * from where those cards are, so it follows the stylesheet.
   */
  const fitToKits = () => {
    const bounds = new LngLatBounds();
    for (const d of devices.all()) {
      if (d.geometry && d.properties.kind !== 'vehicle')
        bounds.extend(d.geometry.coordinates as [number, number]);
    }
    if (bounds.isEmpty()) return;
    const box = map.getContainer().getBoundingClientRect();
    const pad = { top: 24, bottom: 24, left: 24, right: 24 };
    for (const id of ['controls', 'legend']) {
      const r = byId(id).getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.width > box.width * 0.6) {
        // Across the map: above or below.
        if (r.top - box.top < box.height / 2) pad.top = Math.max(pad.top, r.bottom - box.top + 12);
        else pad.bottom = Math.max(pad.bottom, box.bottom - r.top + 12);
      } else if (r.left - box.left < box.width / 2) {
        pad.left = Math.max(pad.left, r.right - box.left + 12);
      }
    }
    // The zoom and scale buttons on the right.
    pad.right = Math.max(pad.right, 56);
    if (pad.top + pad.bottom > box.height * 0.7) pad.top = pad.bottom = 24;
    if (pad.left + pad.right > box.width * 0.7) pad.left = pad.right = 24;
    map.fitBounds(bounds, { padding: pad, maxZoom: 15, duration: 0 });
  };

  let moveTimer: ReturnType<typeof setTimeout> | undefined;
  map.on('moveend', () => {
    clearTimeout(moveTimer);
    moveTimer = setTimeout(() => void refreshCells(), 250);
  });

  const base = await loadBaseStyle(config.basemap);
  await loaded;
  const offKey: Key = fallback ? 'basemapOffCity' : 'basemapOff';
  if (base) applyBase(map, base, fallback, () => note(offKey));
  else if (config.basemap) note(offKey);
  showLive();
}
