import { Readable } from 'node:stream';
import { flagNames, METRIC_NAMES, type Metric } from '@citytel/contract';
import type { Store } from '@citytel/store';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiError, errorResponses } from '../errors.ts';
import type { InfluxQuery } from '../influx/client.ts';
import { influxFailure } from '../influx/http.ts';
import { formatDuration, iso, UNIT_MS } from '../influx/time.ts';
import { type ARCHIVE_SENSORS, archiveLayout, archiveRow, layoutMetrics } from './archive-layout.ts';
import { csvColumns, DATAPACKAGE_PATH, dataPackage } from './datapackage.ts';
import {
  countReadings,
  type ExportQuery,
  exportRows,
  querySchema,
  type Row,
  type Rows,
} from './export-read.ts';

export interface ExportRoutesOptions {
  influx: InfluxQuery;
  /** Which mobile kits have a public track (the others are placed at their cell). */
  store: Pick<Store, 'devices'>;
  /** Exports streamed at once by this process (default 4); past it a new one is answered 429. */
  maxConcurrent?: number;
  /** Most readings one export may read from InfluxDB (default 5 000 000); past it 413. */
  maxRows?: number;
  /** SPDX id of the open-data licence (OPEN_DATA_LICENSE), written into every export. */
  license: string;
  /** Time slice per InfluxDB query (default 6 h): each slice is also read in chunks. */
  sliceMs?: number;
  /** Points per chunk of InfluxDB's chunked answer (default 5000). */
  chunkSize?: number;
  /** Longest range one export may span (default 366 days). */
  maxRangeMs?: number;
}

/** GET /api/v1/export: open data, streamed. */
export const exportRoutes: FastifyPluginAsyncZod<ExportRoutesOptions> = async (app, opts) => {
  const maxRange = opts.maxRangeMs ?? 366 * UNIT_MS.d;
  const maxConcurrent = opts.maxConcurrent ?? 4;
  const maxRows = opts.maxRows ?? 5_000_000;
  let running = 0;

  app.get(
    DATAPACKAGE_PATH,
    {
      schema: {
        tags: ['open data'],
        summary: 'Frictionless Tabular Data Package of the CSV export',
        description:
          'Licence, source, column types and units of `/api/v1/export?format=csv` ' +
          '(https://specs.frictionlessdata.io/tabular-data-package/).',
        response: { 200: z.looseObject({ profile: z.literal('tabular-data-package') }) },
      },
    },
    async (request, reply) => {
      const base = `${request.protocol}://${request.host}`;
      return reply
        .type('application/json; charset=utf-8')
        .header('Cache-Control', 'public, max-age=3600')
        .send(dataPackage(opts.license, base));
    },
  );

  app.get(
    '/api/v1/export',
    {
      config: { rateLimit: {} },
      schema: {
        tags: ['open data'],
        summary: 'Open-data export of readings (CSV or GeoJSON), streamed',
        description:
          'Raw readings, or with `every` one row per device and bucket with `fn` of each metric (position: ' +
          'the mean of the bucket; a level in dB its energy mean). Rows are streamed as InfluxDB is read in ' +
          "time slices and chunks, so any range costs the api the same memory. The CSV's first line is its " +
          'header (RFC 4180); its licence, source, units and column types are in the Frictionless Data ' +
          'Package at /api/v1/export/datapackage.json, linked from the `Link` header (rel="describedby"). Raw ' +
          "rows carry `flags` (quality flags, `;`-separated) and `sensor_error` (a sensor's error values, " +
          'never in a metric column). GeoJSON carries a ' +
          '`license` member. Indoor kits are placed at the centre of their 7-cell, and `bbox` selects by ' +
          "that public position; so are mobile kits whose owner did not opt in to a public track. Cars' " +
          'readings are not exported (they reach the public only in the map, anonymously). Within each ' +
          'time slice, bucketed rows are grouped by device. One export reads at most a set number of ' +
          'readings (413 past it: a shorter range, a bbox, a device or a metric) and a few run at once ' +
          '(429 past them).',
        querystring: querySchema,
        produces: ['text/csv', 'application/geo+json'],
        response: {
          200: z.string().describe('CSV (text/csv) or a GeoJSON FeatureCollection (application/geo+json)'),
          ...errorResponses(400, 413, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const to = q.to ?? Date.now();
      const from = q.from ?? to - UNIT_MS.d;
      if (from >= to) throw apiError('invalid_parameter', 'querystring.from: must be before to');
      if (to - from > maxRange) {
        throw apiError(
          'invalid_parameter',
          `querystring.from: at most ${formatDuration(maxRange)} per export`,
        );
      }
      if (q.format === 'archive' && (!q.device || !q.sensor || q.every))
        throw apiError(
          'invalid_parameter',
          'querystring.format: archive needs device and sensor, and gives raw readings (no every)',
        );
      const layout = q.sensor ? archiveLayout(q.sensor) : undefined;
      const metrics = layout ? layoutMetrics(layout) : q.metric ? [q.metric] : METRIC_NAMES;
      if (running >= maxConcurrent) {
        throw apiError('rate_limited', `${running} exports are running, the most at once; retry later`, {
          'Retry-After': '10',
        });
      }
      running++;
      let released = false;
      const release = () => {
        if (!released) running--;
        released = true;
      };
      const abort = new AbortController();
      // The response's close: a client that goes away stops the InfluxDB reads behind it.
      reply.raw.once('close', () => {
        release();
        abort.abort();
      });
      let first: IteratorResult<Row[], void>;
      let rows: Rows;
      try {
        const scanned = await countReadings(opts.influx, q, from, to).catch((err: unknown) => {
          throw influxFailure(err);
        });
        if (scanned > maxRows) {
          throw apiError(
            'result_too_large',
            `${scanned} readings match, at most ${maxRows} per export: shorten the range, or add a bbox, a device or a metric`,
          );
        }
        const publicTracks = new Set(
          (await opts.store.devices.list()).filter((d) => d.publicTrack && !d.indoor).map((d) => d.id),
        );
        rows = exportRows(opts, q, metrics, from, to, publicTracks, abort.signal);
        // The first slice is read before answering, so that InfluxDB down is a 503, not a cut-off 200.
        first = await rows.next().catch((err: unknown) => {
          throw influxFailure(err);
        });
      } catch (err) {
        release();
        throw err;
      }
      // One batch buffered ahead at most: the rest waits in InfluxDB until the client reads on.
      const write =
        q.format === 'archive' ? archive(layout!, q.sensor!, q.device!) : q.format === 'csv' ? csv : geojson;
      const body = Readable.from(write(opts.license, q, metrics, from, to, first, rows, request.log), {
        highWaterMark: 1,
      });
      const name =
        q.format === 'archive'
          ? `${iso(from).slice(0, 10)}_${q.sensor!.toLowerCase()}_sensor_${q.device}.csv`
          : `citytel-${q.metric ?? 'readings'}-${iso(from).slice(0, 10)}.${q.format === 'csv' ? 'csv' : 'geojson'}`;
      // A stream is sent as is; the 200 schema above only documents it.
      const plain: FastifyReply = reply;
      return plain
        .type(q.format === 'geojson' ? 'application/geo+json' : 'text/csv; charset=utf-8')
        .header('Content-Disposition', `attachment; filename="${name}"`)
        .header('Link', `<${DATAPACKAGE_PATH}>; rel="describedby"; type="application/json"`)
        .header('Cache-Control', 'no-cache')
        .send(body);
    },
  );
};

type Log = { warn(obj: object, msg: string): void };

async function* csv(
  _license: string,
  q: ExportQuery,
  metrics: readonly Metric[],
  _from: number,
  _to: number,
  first: IteratorResult<Row[], void>,
  rest: Rows,
  log: Log,
): AsyncGenerator<string> {
  // The first line is the header (pandas' and R's read_csv take anything else as data): licence, source
  // and units are in the data package the Link header names.
  yield `${csvColumns(metrics, !q.every).join(',')}\n`;
  for await (const batch of batches(first, rest, log)) {
    let out = '';
    for (const r of batch) {
      out += `${iso(r.t)},${r.device},${r.kind},${r.loc},${r.lat},${r.lon},${r.values.map((v) => (v === null ? '' : v)).join(',')}`;
      out += q.every
        ? '\n'
        : `,${r.tsrc ?? ''},${r.qf ? flagNames(r.qf).join(';') : ''},${r.qerr ?? ''},${r.pm25c ?? ''},${r.pm10c ?? ''},${r.pmc ?? ''}\n`;
    }
    if (out) yield out;
  }
}

async function* geojson(
  license: string,
  q: ExportQuery,
  metrics: readonly Metric[],
  from: number,
  to: number,
  first: IteratorResult<Row[], void>,
  rest: Rows,
  log: Log,
): AsyncGenerator<string> {
  const head = {
    type: 'FeatureCollection',
    license,
    source: 'citytel open data',
    query: describe(q, from, to),
  };
  yield `${JSON.stringify(head).slice(0, -1)},"features":[\n`;
  let sep = '';
  for await (const batch of batches(first, rest, log)) {
    let out = '';
    for (const r of batch) {
      const properties: Record<string, unknown> = {
        time: iso(r.t),
        device: r.device,
        kind: r.kind,
        loc: r.loc,
      };
      metrics.forEach((m, i) => {
        if (r.values[i] !== null) properties[m] = r.values[i];
      });
      if (r.tsrc) properties.tsrc = r.tsrc;
      if (r.qf) properties.flags = flagNames(r.qf);
      if (r.qerr) properties.sensor_error = r.qerr;
      if (r.pm25c !== undefined) properties.pm25_corrected = r.pm25c;
      if (r.pm10c !== undefined) properties.pm10_corrected = r.pm10c;
      if (r.pmc) properties.pm_correction = r.pmc;
      out += `${sep}${JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [r.lon, r.lat] }, properties })}`;
      sep = ',\n';
    }
    if (out) yield out;
  }
  yield '\n]}\n';
}

/** The sensor.community archive layout of `sensor` (archive-layout.ts): `;`-separated, header first. */
const archive = (
  layout: ReturnType<typeof archiveLayout>,
  sensor: (typeof ARCHIVE_SENSORS)[number],
  device: string,
) =>
  async function* (
    _license: string,
    _q: ExportQuery,
    metrics: readonly Metric[],
    _from: number,
    _to: number,
    first: IteratorResult<Row[], void>,
    rest: Rows,
    log: Log,
  ): AsyncGenerator<string> {
    yield `${layout.columns.join(';')}\n`;
    for await (const batch of batches(first, rest, log)) {
      let out = '';
      for (const r of batch) {
        const line = archiveRow(
          layout,
          sensor,
          device,
          r.t,
          r.lat,
          r.lon,
          (m) => r.values[metrics.indexOf(m)] ?? null,
        );
        if (line) out += `${line}\n`;
      }
      if (out) yield out;
    }
  };

/** The batches after the first one read; a failure mid-stream is logged and ends the body early. */
async function* batches(first: IteratorResult<Row[], void>, rest: Rows, log: Log): AsyncGenerator<Row[]> {
  if (first.done) return;
  yield first.value;
  try {
    for await (const batch of rest) yield batch;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'export cut short');
    throw err;
  }
}

const describe = (q: ExportQuery, from: number, to: number): string =>
  [
    `from ${iso(from)} to ${iso(to)}`,
    q.every ? `${q.fn} per ${formatDuration(q.every)}` : 'raw readings',
    q.bbox ? `bbox ${q.bbox.minLon},${q.bbox.minLat},${q.bbox.maxLon},${q.bbox.maxLat}` : undefined,
    q.device ? `device ${q.device}` : undefined,
    q.kind ? `kind ${q.kind}` : undefined,
  ]
    .filter(Boolean)
    .join('; ');
