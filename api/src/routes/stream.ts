import {
  bandFor,
  type DecodedReading,
  decodeSensorMessage,
  type Metric,
  type MetricValues,
  maskTopic,
  type Position,
  parseJson,
  parseTopic,
  resolveTime,
  STAMPED_TOPIC_KINDS,
  unstamp,
  vehicleStatusSchema,
} from '@citytel/contract';
import type { Device, Store } from '@citytel/store';
import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiError, errorResponses } from '../errors.ts';
import { placed, placementOf, round6 } from '../influx/public-position.ts';
import { iso } from '../influx/time.ts';

/** The MQTT the stream needs: the api's shared connection (mqtt.ts ApiMqtt) fits. */
export interface StreamMqtt {
  subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): () => void;
}

export interface StreamRoutesOptions {
  mqtt: StreamMqtt;
  store: Pick<Store, 'devices'>;
  /** At most one reading event per device (and one telemetry event per car) in this time (default 5 s). */
  throttleMs?: number;
  /** Recent events kept for clients that reconnect with Last-Event-ID (default 2000). */
  bufferSize?: number;
  /** Comment line sent to idle streams so that proxies keep them open (default 15 s). */
  heartbeatMs?: number;
  /** Concurrent streams in all (default 1000); more are answered 429. */
  maxClients?: number;
  /** Concurrent streams from one client address (default 4: a few tabs); more are answered 429. */
  maxClientsPerAddress?: number;
  /** How long a device (or an SCK token's device) is remembered (default 60 s). */
  deviceCacheMs?: number;
}

/** Every live topic the api listens to (broker ACL of `svc:api`). */
export const STREAM_SUBSCRIPTIONS = [
  'sensors/+/readings',
  'sensors/+/airrohr',
  'device/sck/+/readings/raw',
  'device/sck/+/readings',
  'vehicles/+/telemetry',
  'vehicles/+/status',
] as const;

interface LiveEvent {
  id: number;
  event: 'reading' | 'vehicle';
  data: string;
}

/** A client writes slower than events come: past this much unsent, it is dropped (it reconnects). */
const MAX_UNSENT_BYTES = 1024 * 1024;

/** GET /api/v1/stream: server-sent events for the live map. */
export const streamRoutes: FastifyPluginAsyncZod<StreamRoutesOptions> = async (app, opts) => {
  const feed = createLiveFeed(opts, app.log.child({ component: 'stream' }));
  const clients = new Set<() => void>();
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const maxClients = opts.maxClients ?? 1000;
  const maxPerAddress = opts.maxClientsPerAddress ?? 4;
  const perAddress = new Map<string, number>();

  app.addHook('preClose', async () => {
    for (const end of clients) end();
    feed.stop();
  });

  app.get(
    '/api/v1/stream',
    {
      config: { rateLimit: {} },
      schema: {
        tags: ['live'],
        summary: 'Live readings and vehicle changes (server-sent events)',
        description:
          'A `text/event-stream`. Event `reading`: `{device, kind, t, lat, lon, values, bands}` — at most ' +
          'one per kit every few seconds, with the latest values of the interval (indoor kits, and mobile ' +
          'kits whose owner did not opt in to a public track, at their 7-cell centre). Cars send no ' +
          'readings here (their air readings reach the map anonymously) and no telemetry: event ' +
          '`vehicle` is `{vehicle, t, online}` when a car comes online or goes offline. Each event has an ' +
          '`id`; a client reconnecting with `Last-Event-ID` (EventSource does it by itself) first receives ' +
          'the recent events it missed. A comment line is sent every 15 s. Streams are capped per client ' +
          'address and in all (429 past either).',
        querystring: z.object({
          lastEventId: z.coerce
            .number()
            .int()
            .min(0)
            .optional()
            .describe('for clients that cannot set Last-Event-ID'),
        }),
        // Loose: the other headers stay on the request for the hooks that read them (compression, CORS).
        headers: z.looseObject({ 'last-event-id': z.coerce.number().int().min(0).optional() }),
        produces: ['text/event-stream'],
        response: { 200: z.string().describe('text/event-stream'), ...errorResponses(400, 429, 503) },
      },
    },
    async (request, reply) => {
      const address = request.ip;
      if (clients.size >= maxClients) {
        throw apiError('rate_limited', `${maxClients} live streams are open, the most this server serves`, {
          'Retry-After': '30',
        });
      }
      const mine = perAddress.get(address) ?? 0;
      if (mine >= maxPerAddress) {
        throw apiError(
          'rate_limited',
          `${mine} live streams are open from this address, at most ${maxPerAddress}; close one first`,
          { 'Retry-After': '30' },
        );
      }
      perAddress.set(address, mine + 1);
      const since = request.headers['last-event-id'] ?? request.query.lastEventId;
      const res = reply.raw;
      reply.hijack();
      // Headers set by hooks (CORS) would be lost by hijacking: carry them over.
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      let open = true;
      const send = (text: string) => {
        if (!open) return;
        res.write(text);
        if (res.writableLength > MAX_UNSENT_BYTES) end();
      };
      const unsubscribe = feed.subscribe((e) => send(format(e)));
      const heartbeat = setInterval(() => send(': ping\n\n'), heartbeatMs);
      const end = () => {
        if (!open) return;
        open = false;
        unsubscribe();
        clearInterval(heartbeat);
        clients.delete(end);
        const left = (perAddress.get(address) ?? 1) - 1;
        if (left > 0) perAddress.set(address, left);
        else perAddress.delete(address);
        res.end();
      };
      clients.add(end);
      res.once('close', end);
      send('retry: 3000\n\n');
      if (since !== undefined) for (const e of feed.since(since)) send(format(e));
    },
  );
};

const format = (e: LiveEvent): string => `id: ${e.id}\nevent: ${e.event}\ndata: ${e.data}\n\n`;

interface LiveFeed {
  subscribe(listener: (e: LiveEvent) => void): () => void;
  /** Buffered events newer than `id` (all of them when `id` is older than the buffer). */
  since(id: number): LiveEvent[];
  stop(): void;
}

/**
 * Decodes the device topics the api hears, throttles them per device and keeps the recent events in a
 * ring. Ids grow from the start time in milliseconds, so that after an api restart a client's old
 * Last-Event-ID is older than every new event and it receives the whole buffer.
 */
function createLiveFeed(opts: StreamRoutesOptions, log: FastifyBaseLogger): LiveFeed {
  const throttleMs = opts.throttleMs ?? 5000;
  const size = opts.bufferSize ?? 2000;
  const ring: LiveEvent[] = [];
  const listeners = new Set<(e: LiveEvent) => void>();
  let nextId = Date.now();
  const gates = new Map<string, Gate>();
  const devices = deviceCache(opts.store, opts.deviceCacheMs ?? 60_000);
  const statuses = new Map<string, boolean>();

  const emit = (event: LiveEvent['event'], data: object) => {
    const e = { id: nextId++, event, data: JSON.stringify(data) };
    ring.push(e);
    if (ring.length > size) ring.shift();
    for (const l of listeners) l(e);
  };

  /** Throttle: the first event of a key goes out at once, later ones merge until the interval ends. */
  interface Gate {
    last: number;
    pending?: { event: LiveEvent['event']; data: Record<string, unknown> };
    timer?: NodeJS.Timeout;
  }
  const throttled = (key: string, event: LiveEvent['event'], data: Record<string, unknown>) => {
    const now = Date.now();
    let g = gates.get(key);
    if (!g) {
      g = { last: 0 };
      gates.set(key, g);
    }
    if (!g.timer && now - g.last >= throttleMs) {
      g.last = now;
      emit(event, data);
      return;
    }
    g.pending = g.pending ? { event, data: merge(g.pending.data, data) } : { event, data };
    if (!g.timer) {
      const gate = g;
      gate.timer = setTimeout(
        () => {
          gate.timer = undefined;
          gate.last = Date.now();
          if (gate.pending) emit(gate.pending.event, gate.pending.data);
          gate.pending = undefined;
        },
        throttleMs - (now - g.last),
      );
    }
  };

  const onReading = (d: Device, r: DecodedReading, receivedAt: Date) => {
    const placement = placementOf(d);
    // A car's readings would be its track under its id: they reach the public only in the map's cells.
    if (placement === 'hidden') return;
    const where: Position | undefined =
      r.position ?? (d.lat !== null && d.lon !== null ? { lat: d.lat, lon: d.lon } : undefined);
    const pos = where && placed(where, placement);
    const bands: Record<string, unknown> = {};
    for (const [m, v] of Object.entries(r.values) as Array<[Metric, number]>) {
      const b = bandFor(m, v);
      if (b) bands[m] = b;
    }
    throttled(`r:${d.id}`, 'reading', {
      device: d.id,
      kind: d.kind,
      t: iso(resolveTime(r.ts, receivedAt).ts.getTime()),
      lat: pos ? round6(pos.lat) : null,
      lon: pos ? round6(pos.lon) : null,
      values: r.values,
      bands,
    });
  };

  const onMessage = async (topic: string, raw: Buffer) => {
    const parsed = parseTopic(topic);
    if (!parsed) return;
    const { receivedAt = new Date(), payload } = STAMPED_TOPIC_KINDS.has(parsed.kind)
      ? unstamp(raw)
      : { payload: raw };
    if (parsed.kind === 'vehicle-status') {
      const p = parseJson(payload.toString('utf8'));
      const s = p.ok ? vehicleStatusSchema.safeParse(p.value) : undefined;
      if (!s?.success) return;
      // Only whether the car is reachable: its lock state is nobody's business but its operator's, and
      // retained statuses arrive again at each (re)subscription, so only changes are events.
      const online = s.data.online;
      if (statuses.get(parsed.owner) === online) return;
      statuses.set(parsed.owner, online);
      emit('vehicle', { vehicle: parsed.owner, t: iso(receivedAt.getTime()), online });
      return;
    }
    // Telemetry is a car's position, speed and state: never public (its operator has GET /vehicles).
    if (parsed.kind === 'vehicle-telemetry') return;
    const sck = parsed.kind === 'sck-raw' || parsed.kind === 'sck-json';
    const d = sck ? await devices.bySckToken(parsed.owner) : await devices.byId(parsed.owner);
    if (!d) return;
    const result = decodeSensorMessage(parsed.kind, payload);
    for (const r of result.readings) onReading(d, r, receivedAt);
  };

  const unsubscribes = STREAM_SUBSCRIPTIONS.map((filter) =>
    opts.mqtt.subscribe(filter, (topic, payload) => {
      onMessage(topic, payload).catch((err: Error) =>
        log.warn({ err: err.message, topic: maskTopic(topic) }, 'live message dropped'),
      );
    }),
  );

  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    since(id) {
      return ring.filter((e) => e.id > id);
    },
    stop() {
      for (const u of unsubscribes) u();
      for (const g of gates.values()) clearTimeout(g.timer);
      gates.clear();
      listeners.clear();
    },
  };
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a, ...b };
  // Values and bands of a reading accumulate over the interval: a kit that sends PM and noise apart shows both.
  for (const k of ['values', 'bands'] as const) {
    if (a[k] && b[k]) out[k] = { ...(a[k] as MetricValues), ...(b[k] as MetricValues) };
  }
  return out;
}

/**
 * Devices by id and by SCK token, remembered for `ttlMs` (unknown ones too, for a shorter while): the
 * token lookup is a slow hash by design, and a kit publishes every minute.
 */
function deviceCache(store: Pick<Store, 'devices'>, ttlMs: number) {
  const byKey = new Map<string, { device: Promise<Device | undefined>; expires: number }>();
  const get = (key: string, load: () => Promise<Device | undefined>) => {
    const now = Date.now();
    const hit = byKey.get(key);
    if (hit && hit.expires > now) return hit.device;
    const entry = { device: load().catch(() => undefined), expires: now + ttlMs };
    // An unknown device is asked again sooner: a kit provisioned a moment ago shows up within 10 s.
    void entry.device.then((d) => {
      if (!d) entry.expires = Math.min(entry.expires, Date.now() + 10_000);
    });
    byKey.set(key, entry);
    if (byKey.size > 50_000) byKey.delete(byKey.keys().next().value as string);
    return entry.device;
  };
  return {
    byId: (id: string) => get(`id:${id}`, () => store.devices.get(id)),
    bySckToken: (token: string) => get(`sck:${token}`, () => store.devices.findBySckToken(token)),
  };
}
