import type { Devices } from './devices.ts';
import { byId, h } from './dom.ts';
import { currentLang, formatTime, type Key, metricName, t } from './i18n.ts';
import { MAP_METRICS } from './scale.ts';
import { type Store, WINDOWS, type Window } from './state.ts';

/** The replay slider: the last 24 h in 10-minute steps; its right end is live. */
const STEP_MS = 10 * 60_000;
const STEPS = 144;
const PLAY_STEP_MS = 700;

const WINDOW_KEYS: Record<Window, Key> = { '1h': 'w1h', '24h': 'w24h', '7d': 'w7d' };

export interface Controls {
  render(): void;
  /** Fills the "find a kit" list. */
  setKits(devices: Devices): void;
  showCarsToggle(yes: boolean): void;
}

/**
 * Every control is a native form element (radio groups, a range input, checkboxes, buttons), so it is
 * reachable and usable with the keyboard and a screen reader as browsers make them, and large enough
 * to touch on a phone (style.css).
 */
export function createControls(
  store: Store,
  opts: { whenDrawn(): Promise<void>; onFind(id: string): void; onLang(): void },
): Controls {
  const metricBox = byId('metric-options');
  const windowBox = byId('window-options');
  const slider = byId<HTMLInputElement>('replay');
  const out = byId<HTMLOutputElement>('replay-out');
  const play = byId<HTMLButtonElement>('play');
  const find = byId<HTMLInputElement>('find');
  const kitsList = byId<HTMLDataListElement>('kits-list');
  let playing = false;
  let kitIds = new Map<string, string>();

  slider.min = String(-STEPS);
  slider.max = '0';
  slider.step = '1';
  slider.value = '0';

  const radio = (name: string, value: string, label: string, checked: boolean) => {
    const input = h('input', { type: 'radio', name, value, id: `${name}-${value}`, checked });
    input.addEventListener('change', () => {
      if (!input.checked) return;
      if (name === 'metric') store.set({ metric: value as (typeof MAP_METRICS)[number] });
      else store.set({ window: value as Window });
    });
    return h('label', { class: 'seg-item', for: `${name}-${value}` }, input, h('span', {}, label));
  };

  const stepToTime = (step: number): number | null =>
    step >= 0 ? null : Math.floor(Date.now() / STEP_MS) * STEP_MS + step * STEP_MS;

  const showReplay = () => {
    const at = store.state.replayAt;
    const text = at === null ? t('now') : formatTime(at, Date.now() - at > 12 * 3_600_000);
    out.value = text;
    slider.setAttribute('aria-valuetext', text);
    byId('live-now').hidden = at === null;
  };

  slider.addEventListener('input', () => store.set({ replayAt: stepToTime(Number(slider.value)) }));
  byId('live-now').addEventListener('click', () => {
    stopPlaying();
    slider.value = '0';
    store.set({ replayAt: null });
  });

  const stopPlaying = () => {
    playing = false;
    play.setAttribute('aria-pressed', 'false');
    play.textContent = '▶';
    play.setAttribute('aria-label', t('play'));
  };
  play.addEventListener('click', async () => {
    if (playing) {
      stopPlaying();
      return;
    }
    playing = true;
    play.setAttribute('aria-pressed', 'true');
    play.textContent = '❚❚';
    play.setAttribute('aria-label', t('pause'));
    if (Number(slider.value) >= 0) slider.value = String(-STEPS);
    while (playing) {
      const step = Number(slider.value);
      store.set({ replayAt: stepToTime(step) });
      const started = Date.now();
      await opts.whenDrawn();
      await new Promise((r) => setTimeout(r, Math.max(0, PLAY_STEP_MS - (Date.now() - started))));
      if (!playing) break;
      if (step >= 0) {
        stopPlaying();
        break;
      }
      slider.value = String(step + 1);
    }
  });

  for (const [key, box] of [
    ['cells', 'layer-cells'],
    ['kits', 'layer-kits'],
    ['cars', 'layer-cars'],
  ] as const) {
    const input = byId<HTMLInputElement>(box);
    input.checked = store.state.layers[key];
    input.addEventListener('change', () =>
      store.set({ layers: { ...store.state.layers, [key]: input.checked } }),
    );
  }

  const pick = () => {
    const v = find.value.trim();
    const target = kitIds.get(v) ?? [...kitIds.values()].find((id) => id === v);
    if (target) {
      opts.onFind(target);
      find.value = '';
    }
  };
  find.addEventListener('change', pick);
  find.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') pick();
  });

  byId('lang').addEventListener('click', opts.onLang);
  const toggle = byId<HTMLButtonElement>('controls-toggle');
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    byId('controls').classList.toggle('open', open);
  });

  store.on((_, changed) => {
    if (changed.has('replayAt')) showReplay();
  });

  const render = () => {
    metricBox.replaceChildren(
      ...MAP_METRICS.map((m) => radio('metric', m, metricName(m), m === store.state.metric)),
    );
    windowBox.replaceChildren(
      ...WINDOWS.map((w) => radio('window', w, t(WINDOW_KEYS[w]), w === store.state.window)),
    );
    byId('lang').textContent = t('otherLang');
    byId('lang').setAttribute('lang', t('otherLangCode'));
    if (!playing) {
      play.textContent = '▶';
      play.setAttribute('aria-label', t('play'));
    }
    showReplay();
    document.documentElement.dataset.lang = currentLang();
  };

  return {
    render,
    setKits(devices) {
      kitIds = new Map();
      const options: HTMLOptionElement[] = [];
      for (const d of devices.all()) {
        if (d.properties.kind === 'vehicle' || !d.geometry) continue;
        const label = d.properties.name ? `${d.properties.name} (${d.id})` : d.id;
        kitIds.set(label, d.id);
        options.push(h('option', { value: label }));
      }
      kitsList.replaceChildren(...options);
    },
    showCarsToggle(yes) {
      byId('layer-cars-item').hidden = !yes;
    },
  };
}
