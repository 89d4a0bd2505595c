import {
  type Band,
  bandFor,
  DEVICE_KINDS,
  isMetric,
  MEASUREMENTS,
  type Metric,
  type Position,
  QUALITY_FLAG_NAMES,
  READING_TAGS,
  SENSOR_ERROR_VALUES,
  TIME_SOURCE_FIELD,
  VEHICLE_TAGS,
} from '@citytel/contract';
import type { Device, Operator, Store } from '@citytel/store';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../errors.ts';
import { etagOf, type PreparedAnswer, prepareAnswer, sendJsonText, sendPrepared } from '../influx/answer.ts';
import type { InfluxQuery, InfluxSeries } from '../influx/client.ts';
import { influxFailure } from '../influx/http.ts';
import { ident, select, time } from '../influx/influxql.ts';
import { type LatestQuality, latestQuality } from '../influx/latest-quality.ts';
import { type Bbox, bboxParam, inBbox, kindParam, metricParam } from '../influx/params.ts';
import { type Placement, placed, placementOf, round6 } from '../influx/public-position.ts';
import { createResultCache } from '../influx/result-cache.ts';
import { iso, UNIT_MS } from '../influx/time.ts';
import { canManage } from '../plugins/auth.ts';

export interface DevicesPublicRoutesOptions {
  influx: InfluxQuery;
  store: Pick<Store, 'devices'>;
  /** How far back latest values are looked for (default 24 h); older kits are listed with lastSeen only. */
  lookbackMs?: number;
  /** How long the list is fresh (default 10 s; 0 disables caching). */
  cacheTtlMs?: number;
}

/** Vehicle fields shown on the fleet map (CONTRACT §2.4), from the `vehicles` measurement. */
const VEHICLE_FIELDS = [
  'speed_kmh',
  'heading',
  'odometer_km',
  'fuel_pct',
  'battery_pct',
  'battery_v',
  'ignition',
  'locked',
  'doors_closed',
  'online',
] as const;

const bandSchema = z.object({ level: z.number().int(), label: z.string(), color: z.string() });

export const publicDeviceSchema = z
  .object({
    type: z.literal('Feature'),
    id: z.string(),
    geometry: z
      .object({ type: z.literal('Point'), coordinates: z.tuple([z.number(), z.number()]) })
      .nullable()
      .describe(
        'null while a mobile kit has reported no position; indoor kits, and mobile kits whose owner did ' +
          'not opt in to a public track, at their 7-cell centre',
      ),
    properties: z.object({
      id: z.string(),
      kind: z.enum(DEVICE_KINDS),
      name: z.string().nullable(),
      mobile: z.boolean(),
      indoor: z.boolean(),
      lastSeen: z.iso.datetime().nullable().describe('last message from the device, whatever it carried'),
      valuesAt: z.iso.datetime().nullable().describe('time of its latest reading'),
      values: z.record(z.string(), z.number()).describe('latest value of each metric (within the lookback)'),
      bands: z.record(z.string(), bandSchema).describe('index band of each latest value that has one'),
      flags: z
        .record(z.string(), z.array(z.enum(QUALITY_FLAG_NAMES as [string, ...string[]])))
        .describe(
          'quality flags of the latest reading of each metric ([] when clean), including one whose value ' +
            'was a sensor error code (sensor_error, no value served)',
        ),
      corrected: z
        .object({
          pm25: z.object({ value: z.number(), method: z.string() }).optional(),
          pm10: z.object({ value: z.number(), method: z.string() }).optional(),
        })
        .optional()
        .describe(
          'humidity-corrected value of the latest PM reading, when it has one, with its method ' +
            '(`id@version`); `values` keeps the measured one',
        ),
      vehicle: z
        .record(z.string(), z.union([z.number(), z.boolean()]))
        .optional()
        .describe(
          "latest telemetry of a vehicle (its operator's view only): speed_kmh, fuel_pct, locked, ...",
        ),
    }),
  })
  .meta({ id: 'PublicDevice' });

export const publicDevicesSchema = z
  .object({ type: z.literal('FeatureCollection'), features: z.array(publicDeviceSchema) })
  .meta({
    id: 'PublicDevices',
    description: 'Every kit and vehicle with its latest values and when it was last seen',
  });
type PublicDevice = z.infer<typeof publicDeviceSchema>;

interface Latest {
  at?: number;
  values: Partial<Record<Metric, number>>;
  quality?: LatestQuality;
  position?: Position;
  loc?: string;
}

/** GET /api/v1/devices: the public map of devices. */
export const devicesPublicRoutes: FastifyPluginAsyncZod<DevicesPublicRoutesOptions> = async (app, opts) => {
  const ttl = opts.cacheTtlMs ?? 10_000;
  const lookback = opts.lookbackMs ?? UNIT_MS.d;
  const cache = createResultCache<DevicesView>({
    ttlMs: ttl,
    // Served while recomputed past its ttl: no request waits for InfluxDB once the list is warm.
    staleMs: 6 * ttl,
    maxEntries: 1,
    onRefreshError: (err) => app.log.warn({ err: (err as Error).message }, 'devices refresh failed'),
  });

  app.get(
    '/api/v1/devices',
    {
      config: { rateLimit: {} },
      schema: {
        tags: ['open data'],
        summary: 'Every kit (and, for its operator, every car), with latest values and last seen',
        description:
          'A GeoJSON FeatureCollection of the registered kits. A kit stays listed however long it has ' +
          'been silent: `lastSeen` says since when. Latest values are those of the last 24 hours. Indoor ' +
          '(home) kits, and mobile kits whose owner did not opt in to a public track, are placed at the ' +
          'centre of their geohash cell of length 7 (~150 m), never at their own position. Cars are not ' +
          'in the public answer (their free ones are in /api/v1/vehicles, at their station; their air ' +
          'readings in the map, anonymously). With an operator token, its own devices (an admin: all) ' +
          'are listed in full: exact positions, and each car with its latest telemetry. Filters: `kind`, ' +
          '`metric` (devices with a latest value of it), `bbox` (position inside, edges included). The ' +
          'public list is shared by every client and may be as old as its Cache-Control max-age plus ' +
          'stale-while-revalidate; the live stream has what happened since.',
        querystring: z.object({
          kind: kindParam.optional(),
          metric: metricParam.optional(),
          bbox: bboxParam.optional(),
        }),
        security: [{}, { bearerAuth: [] }],
        response: { 200: publicDevicesSchema, ...errorResponses(400, 401, 429, 503) },
      },
    },
    async (request, reply) => {
      const { kind, metric, bbox } = request.query;
      const operator = await app.optionalOperator(request);
      const view = await cache
        .get('all', async () => {
          const since = Date.now() - lookback;
          const [devices, readings, vehicles] = await Promise.all([
            opts.store.devices.list(),
            latestReadings(opts.influx, since),
            latestVehicles(opts.influx, since),
          ]);
          const entries = devices.map((d) => ({
            device: d,
            full: feature(d, readings.get(d.id), vehicles.get(d.id), 'exact'),
            public: feature(d, readings.get(d.id), vehicles.get(d.id), placementOf(d)),
          }));
          const features = entries.flatMap((e) => (e.public ? [e.public] : []));
          return { entries, features, whole: await prepareAnswer(answer(features)) };
        })
        .catch((err: unknown) => {
          throw influxFailure(err);
        });
      const wanted = (f: PublicDevice) => (!kind || f.properties.kind === kind) && keep(f, metric, bbox);
      if (operator) {
        // Text already serialized from schema-checked features, as the public answers are.
        const plain: FastifyReply = reply;
        return plain
          .header('Cache-Control', 'private, no-store')
          .type('application/json; charset=utf-8')
          .send(answer(operatorFeatures(view, operator).filter(wanted)));
      }
      // The answer differs with a token: no shared cache may give the public one to an operator.
      reply.header('Vary', 'Authorization');
      if (!kind && !metric && !bbox) return sendPrepared(request, reply, view.whole, ttl, 6 * ttl);
      const filter = `${kind ?? ''}|${metric ?? ''}|${bbox ? `${bbox.minLon},${bbox.minLat},${bbox.maxLon},${bbox.maxLat}` : ''}`;
      const etag = `W/${etagOf(`${view.whole.etag}|${filter}`)}`;
      return sendJsonText(request, reply, ttl, 6 * ttl, etag, () => answer(view.features.filter(wanted)));
    },
  );
};

/** The operator's own devices in full (an admin's: every one), the others as the public sees them. */
function operatorFeatures(view: DevicesView, operator: Operator): PublicDevice[] {
  return view.entries.flatMap((e) => {
    const f = canManage(operator, e.device) ? e.full : e.public;
    return f ? [f] : [];
  });
}

interface DevicesView {
  entries: Array<{ device: Device; full: PublicDevice | undefined; public: PublicDevice | undefined }>;
  /** The public answer's features. */
  features: PublicDevice[];
  whole: PreparedAnswer;
}

const answer = (features: PublicDevice[]) => JSON.stringify({ type: 'FeatureCollection', features });

function keep(f: PublicDevice, metric: Metric | undefined, bbox: Bbox | undefined): boolean {
  if (metric && f.properties.values[metric] === undefined) return false;
  if (!bbox) return true;
  if (!f.geometry) return false;
  const [lon, lat] = f.geometry.coordinates;
  return inBbox(bbox, lat, lon);
}

/** The device as shown with `placement`; undefined for a device that is not shown at all (a public car). */
function feature(
  d: Device,
  latest: Latest | undefined,
  vehicle: VehicleLatest | undefined,
  placement: Placement,
): PublicDevice | undefined {
  if (placement === 'hidden') return undefined;
  // A fixed kit stands where it was registered; a mobile kit or car where it last reported.
  const registered = d.lat !== null && d.lon !== null ? { lat: d.lat, lon: d.lon } : undefined;
  const moving = d.mobile || d.kind === 'vehicle';
  const where = moving
    ? (vehicle?.position ?? latest?.position ?? registered)
    : (registered ?? latest?.position);
  // Readings of a kit once registered indoors (loc tag) stay at their cell even for its operator.
  const pos = where && placed(where, latest?.loc === 'indoor' && placement === 'exact' ? 'cell' : placement);
  const values = latest?.values ?? {};
  const quality = latest?.quality;
  const hasCorrected = quality && Object.keys(quality.corrected).length > 0;
  const bands: Record<string, Band> = {};
  for (const [m, v] of Object.entries(values) as Array<[Metric, number]>) {
    const band = bandFor(m, v);
    if (band) bands[m] = band;
  }
  const seen = Math.max(d.lastSeenAt?.getTime() ?? 0, latest?.at ?? 0, vehicle?.at ?? 0);
  return {
    type: 'Feature',
    id: d.id,
    geometry: pos ? { type: 'Point', coordinates: [round6(pos.lon), round6(pos.lat)] } : null,
    properties: {
      id: d.id,
      kind: d.kind,
      name: d.name,
      mobile: d.mobile,
      indoor: d.indoor,
      lastSeen: seen > 0 ? iso(seen) : null,
      valuesAt: latest?.at !== undefined ? iso(latest.at) : null,
      values,
      bands,
      flags: quality?.flags ?? {},
      ...(hasCorrected ? { corrected: quality.corrected } : {}),
      ...(d.kind === 'vehicle' ? { vehicle: vehicle?.fields ?? {} } : {}),
    },
  };
}

/** `last(*)` per device: the latest value of every field, each from the last point that had it. */
async function latestReadings(influx: InfluxQuery, since: number): Promise<Map<string, Latest>> {
  const where = `time >= ${time(since)}`;
  const [values, times] = await Promise.all([
    influx.query(
      select({ fields: ['last(*)'], from: MEASUREMENTS.readings, where, groupBy: [READING_TAGS.device] }),
    ),
    // `last(*)` answers no single time; `tsrc` is written with every point, so its last is the last point.
    influx.query(
      select({
        fields: [`last(${ident(TIME_SOURCE_FIELD)})`],
        from: MEASUREMENTS.readings,
        where,
        groupBy: [READING_TAGS.device, READING_TAGS.loc],
      }),
    ),
  ]);
  const out = new Map<string, Latest>();
  for (const s of values) {
    const device = s.tags?.[READING_TAGS.device];
    if (!device) continue;
    const row = lastRow(s);
    const latest: Latest = { values: {} };
    for (const [k, v] of Object.entries(row)) {
      const m = k.slice('last_'.length);
      if (typeof v === 'number' && isMetric(m)) latest.values[m] = v;
    }
    if (typeof row.last_lat === 'number' && typeof row.last_lon === 'number') {
      latest.position = { lat: row.last_lat, lon: row.last_lon };
    }
    out.set(device, latest);
  }
  for (const s of times) {
    const device = s.tags?.[READING_TAGS.device];
    const t = s.values[0]?.[0];
    const latest = device ? out.get(device) : undefined;
    if (!latest || typeof t !== 'number' || (latest.at !== undefined && latest.at >= t)) continue;
    latest.at = t;
    latest.loc = s.tags?.[READING_TAGS.loc];
  }
  // The metrics some kit has a latest value of, and those a sensor reports error codes for.
  const metrics = new Set<Metric>(Object.keys(SENSOR_ERROR_VALUES) as Metric[]);
  for (const l of out.values()) for (const m of Object.keys(l.values)) metrics.add(m as Metric);
  for (const [device, q] of await latestQuality(influx, since, [...metrics])) {
    const latest = out.get(device);
    if (latest) latest.quality = q;
  }
  return out;
}

interface VehicleLatest {
  at?: number;
  position?: Position;
  fields: Record<string, number | boolean>;
}

async function latestVehicles(influx: InfluxQuery, since: number): Promise<Map<string, VehicleLatest>> {
  const where = `time >= ${time(since)}`;
  const [values, times] = await Promise.all([
    influx.query(
      select({ fields: ['last(*)'], from: MEASUREMENTS.vehicles, where, groupBy: [VEHICLE_TAGS.vehicle] }),
    ),
    influx.query(
      select({
        fields: [`last(${ident(TIME_SOURCE_FIELD)})`],
        from: MEASUREMENTS.vehicles,
        where,
        groupBy: [VEHICLE_TAGS.vehicle],
      }),
    ),
  ]);
  const out = new Map<string, VehicleLatest>();
  for (const s of values) {
    const id = s.tags?.[VEHICLE_TAGS.vehicle];
    if (!id) continue;
    const row = lastRow(s);
    const v: VehicleLatest = { fields: {} };
    for (const f of VEHICLE_FIELDS) {
      const x = row[`last_${f}`];
      if (typeof x === 'number' || typeof x === 'boolean') v.fields[f] = x;
    }
    if (typeof row.last_lat === 'number' && typeof row.last_lon === 'number') {
      v.position = { lat: row.last_lat, lon: row.last_lon };
    }
    out.set(id, v);
  }
  for (const s of times) {
    const t = s.values[0]?.[0];
    const v = out.get(s.tags?.[VEHICLE_TAGS.vehicle] ?? '');
    if (v && typeof t === 'number') v.at = t;
  }
  return out;
}

function lastRow(s: InfluxSeries): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  const values = s.values[0] ?? [];
  for (let i = 0; i < s.columns.length; i++) row[s.columns[i]!] = values[i];
  return row;
}
