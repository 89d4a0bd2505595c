import { API_BASE, type LiveReading, type LiveVehicle } from './api.ts';

export type LiveStatus = 'connecting' | 'live' | 'offline';

export interface LiveHandlers {
  reading(r: LiveReading): void;
  vehicle(v: LiveVehicle): void;
  status(s: LiveStatus): void;
}

/**
 * GET /api/v1/stream as an EventSource. The browser reconnects by itself (sending Last-Event-ID, so
 * nothing heard by the api in between is lost); when the api refuses the stream outright (503, 404),
 * EventSource stops, and this tries again with a growing delay.
 */
export function connectLive(handlers: LiveHandlers): { close(): void } {
  let source: EventSource | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let delay = 2000;
  let closed = false;

  const parse = <T>(e: MessageEvent, check: (x: T) => boolean): T | undefined => {
    try {
      const x = JSON.parse(String(e.data)) as T;
      return x && typeof x === 'object' && check(x) ? x : undefined;
    } catch {
      return undefined;
    }
  };

  const open = () => {
    if (closed) return;
    handlers.status('connecting');
    const es = new EventSource(`${API_BASE}/api/v1/stream`);
    source = es;
    es.addEventListener('open', () => {
      delay = 2000;
      handlers.status('live');
    });
    es.addEventListener('reading', (e) => {
      const r = parse<LiveReading>(e, (x) => typeof x.device === 'string' && typeof x.values === 'object');
      if (r) handlers.reading(r);
    });
    es.addEventListener('vehicle', (e) => {
      const v = parse<LiveVehicle>(e, (x) => typeof x.vehicle === 'string');
      if (v) handlers.vehicle(v);
    });
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CONNECTING) {
        handlers.status('connecting');
        return;
      }
      es.close();
      handlers.status('offline');
      retry = setTimeout(open, delay);
      delay = Math.min(delay * 2, 60_000);
    });
  };

  open();
  return {
    close() {
      closed = true;
      clearTimeout(retry);
      source?.close();
    },
  };
}
