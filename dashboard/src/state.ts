import { isMapMetric, type MapMetric } from './scale.ts';

export type Window = '1h' | '24h' | '7d';
export const WINDOWS: readonly Window[] = ['1h', '24h', '7d'];

/**
 * What the page shows. Shareable: measure, period and open kit are kept in the address
 * (`?metric=no2&window=24h&kit=abc`), the view in its hash (`#map=z/lat/lon`).
 */
export interface State {
  metric: MapMetric;
  window: Window;
  /** End of the replayed window (epoch ms), or null for live. */
  replayAt: number | null;
  /** The kit whose panel is open. */
  selected: string | null;
  layers: { cells: boolean; kits: boolean; cars: boolean };
}

type Listener = (s: State, changed: ReadonlySet<keyof State>) => void;

export interface Store {
  readonly state: Readonly<State>;
  set(patch: Partial<State>): void;
  on(listener: Listener): void;
}

/** The kit the address asks to open (`?kit=`), once the kits are known. */
export const askedKit = (): string | null => new URLSearchParams(location.search).get('kit');

export function createStore(): Store {
  const params = new URLSearchParams(location.search);
  const metric = params.get('metric');
  const window = params.get('window') as Window;
  const state: State = {
    metric: isMapMetric(metric) ? metric : 'pm25',
    window: WINDOWS.includes(window) ? window : '1h',
    replayAt: null,
    selected: null,
    layers: { cells: true, kits: true, cars: true },
  };
  const listeners: Listener[] = [];
  return {
    state,
    set(patch) {
      const changed = new Set<keyof State>();
      for (const [k, v] of Object.entries(patch) as Array<[keyof State, never]>) {
        if (state[k] !== v) {
          state[k] = v;
          changed.add(k);
        }
      }
      if (changed.size === 0) return;
      if (changed.has('metric') || changed.has('window') || changed.has('selected')) {
        const url = new URL(location.href);
        url.searchParams.set('metric', state.metric);
        url.searchParams.set('window', state.window);
        if (state.selected) url.searchParams.set('kit', state.selected);
        else url.searchParams.delete('kit');
        history.replaceState(history.state, '', url);
      }
      for (const l of listeners) l(state, changed);
    },
    on(listener) {
      listeners.push(listener);
    },
  };
}
