import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { loadApiConfig } from '@citytel/api';
import { ensureInfluxDatabase } from '@citytel/contract';
import { createWriter, loadIngestConfig, type WriterOptions } from '@citytel/ingest';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createInfluxQuery } from '../api/src/influx/client.ts';
import { createInfluxClient } from '../api/src/influx.ts';
import { isLoopback } from '../ingest/src/influx-write-api.ts';

/**
 * The exact HTTP requests ingest's writer and the api's InfluxQL client send to InfluxDB 1.x, 2.x and 3.x.
 * Only 1.x runs here (Debian's influxd 1.6, used by every other test); 2.x and 3.x are stand-ins: a local
 * HTTP server that records each request and answers as that version's routes do (InfluxDB 3 serves the v1
 * /query for GET only and /ping with 200 and JSON; both refuse requests without `Authorization: Token`).
 * This is the one place in the tests where a server is imitated; it checks what we send, not what
 * InfluxDB does with it.
 */

type Flavour = '1.x' | '2.x' | '3.x';

interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** As sent, gunzipped when the request says gzip. */
  body: string;
}

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const TOKEN = 'tok-3f9a_secret==';
const LINES = [
  'readings,device=kit-1,kind=native pm25=8.2,noise_laeq=58.4 1795860900000000000',
  'readings,device=kit-2,kind=sck pm10=14 1795860901000000000',
];
const SERIES = { name: 'readings', columns: ['time', 'mean'], values: [[1795860900000, 8.2]] };

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/**
 * The writer never gzips to a loopback InfluxDB (it would cost CPU for nothing): the stand-ins of 2.x and
 * 3.x, whose gzip is checked, are reached on this machine's own network address when it has one.
 */
const NETWORK_ADDRESS =
  Object.values(networkInterfaces())
    .flat()
    .find((a) => a && !a.internal && a.family === 'IPv4')?.address ?? '127.0.0.1';

/** A recording stand-in for one InfluxDB version, on a free port. */
async function standIn(flavour: Flavour): Promise<{ url: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  server = createServer(async (req, res) => {
    const r = await record(req);
    requests.push(r);
    const send = (status: number, body = '', type = 'application/json') => {
      res.writeHead(status, body ? { 'content-type': type } : {});
      res.end(body);
    };
    const tokenOk = r.authorization === `Token ${TOKEN}`;
    if (flavour !== '1.x' && !tokenOk && !(flavour === '2.x' && r.path === '/ping'))
      return send(401, '{"code":"unauthorized","message":"unauthorized access"}');
    const route = `${r.method} ${r.path}`;
    if (route === 'GET /ping' || route === 'HEAD /ping')
      return flavour === '3.x' ? send(200, '{"version":"3.0.0","revision":"abc"}') : send(204);
    if (route === 'POST /write') return send(204);
    if (route === 'POST /api/v2/write' && flavour !== '1.x') {
      if (flavour === '2.x' && !r.query.org) return send(400, '{"code":"invalid","message":"org required"}');
      return r.query.bucket ? send(204) : send(400, '{"code":"invalid","message":"bucket required"}');
    }
    // Set-up (contract/src/influx-setup.ts): no bucket or database yet; creating one succeeds.
    if (flavour === '2.x' && route === 'GET /api/v2/buckets') return send(200, '{"buckets":[]}');
    if (flavour === '2.x' && route === 'GET /api/v2/orgs')
      return send(200, JSON.stringify({ orgs: [{ id: '0a1b2c3d4e5f6a7b', name: r.query.org }] }));
    if (flavour === '2.x' && route === 'POST /api/v2/buckets') return send(201, r.body);
    if (flavour === '3.x' && route === 'GET /api/v3/configure/database') return send(200, '[]');
    if (flavour === '3.x' && route === 'POST /api/v3/configure/database') return send(200);
    const queryMethods = flavour === '3.x' ? ['GET'] : ['GET', 'POST'];
    if (r.path === '/query' && queryMethods.includes(r.method)) {
      const params = r.method === 'GET' ? r.query : Object.fromEntries(new URLSearchParams(r.body));
      const answer = { results: [{ statement_id: 0, series: [SERIES] }] };
      if (params.chunked === 'true') return send(200, `${JSON.stringify(answer)}\n`);
      return send(200, JSON.stringify(answer));
    }
    // InfluxDB 3 answers a route it does not serve (POST /query among them) with 404 "not found".
    return send(404, 'not found', 'text/plain');
  });
  const host = flavour === '1.x' ? '127.0.0.1' : NETWORK_ADDRESS;
  await new Promise<void>((resolve) => server!.listen(0, host, resolve));
  return { url: `http://${host}:${(server!.address() as AddressInfo).port}`, requests };
}

async function record(req: IncomingMessage): Promise<Recorded> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  const encoding = req.headers['content-encoding'];
  const url = new URL(req.url ?? '/', 'http://x');
  return {
    method: req.method ?? '',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    authorization: req.headers.authorization,
    contentType: req.headers['content-type'],
    contentEncoding: encoding,
    body: (encoding === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'),
  };
}

/** Ingest's writer as ingest/src/worker.ts builds it from the environment. */
function writerFromEnv(env: Record<string, string>): ReturnType<typeof createWriter> {
  const c = loadIngestConfig({ DATA_DIR: '/tmp', ...env });
  const opts: WriterOptions = {
    url: c.INFLUX_URL,
    db: c.INFLUX_DB,
    token: c.INFLUX_TOKEN,
    org: c.INFLUX_ORG,
    bucket: c.INFLUX_BUCKET,
    username: c.INFLUX_USERNAME,
    password: c.INFLUX_PASSWORD,
    batchLines: c.INGEST_BATCH_LINES,
    batchBytes: c.INGEST_BATCH_BYTES,
    flushMs: 10,
    gzipBytes: c.INGEST_GZIP_BYTES,
    maxInFlight: c.INGEST_MAX_INFLIGHT_POINTS,
    retryMinMs: 50,
    retryMaxMs: 100,
    timeoutMs: 2000,
  };
  return createWriter(opts, log);
}

/** Writes LINES as one message and resolves once the writer reports them written. */
async function writeLines(env: Record<string, string>): Promise<void> {
  const writer = writerFromEnv(env);
  try {
    await new Promise<void>((resolve) => writer.write(LINES, resolve));
  } finally {
    writer.close();
  }
}

/** The api's two InfluxDB clients as api/src/main.ts builds them from the environment. */
function apiClientsFromEnv(env: Record<string, string>) {
  const c = loadApiConfig({ DATA_DIR: '/tmp', ...env });
  return {
    read: createInfluxQuery({ url: c.INFLUX_URL, db: c.INFLUX_BUCKET ?? c.INFLUX_DB, token: c.INFLUX_TOKEN }),
    ready: createInfluxClient(c),
  };
}

const STATEMENT = 'SELECT mean("pm25") FROM "readings" WHERE time > now() - 1h';

describe('InfluxDB 1.x', () => {
  it('receives line protocol on /write?db= and InfluxQL as a POST form on /query, without a token', async () => {
    const s = await standIn('1.x');
    await writeLines({ INFLUX_URL: s.url, INFLUX_DB: 'telemetry', INGEST_GZIP_BYTES: '1000000' });
    const { read, ready } = apiClientsFromEnv({ INFLUX_URL: s.url, INFLUX_DB: 'telemetry' });
    expect(await read.query(STATEMENT)).toEqual([SERIES]);
    await ready.ping();
    await read.write('map_1h,cell=gbsuv7 mean=8.2 1795860900000');

    expect(s.requests.map((r) => [r.method, r.path, r.query])).toEqual([
      ['POST', '/write', { db: 'telemetry', precision: 'ns' }],
      ['POST', '/query', {}],
      ['GET', '/ping', {}],
      ['POST', '/write', { db: 'telemetry', precision: 'ms' }],
    ]);
    const [write, query] = s.requests;
    expect(write!.authorization).toBeUndefined();
    expect(write!.contentEncoding).toBeUndefined();
    expect(write!.body).toBe(LINES.join('\n'));
    expect(query!.contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(query!.body))).toEqual({
      db: 'telemetry',
      epoch: 'ms',
      q: STATEMENT,
    });
    expect(s.requests[3]!.body).toBe('map_1h,cell=gbsuv7 mean=8.2 1795860900000');
  });

  it('sends Basic credentials when InfluxDB 1.x has HTTP auth', async () => {
    const s = await standIn('1.x');
    await writeLines({ INFLUX_URL: s.url, INFLUX_USERNAME: 'citytel', INFLUX_PASSWORD: 'pw' });
    expect(s.requests[0]!.authorization).toBe(`Basic ${Buffer.from('citytel:pw').toString('base64')}`);
  });
});

describe('InfluxDB 2.x (stand-in)', () => {
  const env = (url: string) => ({
    INFLUX_URL: url,
    INFLUX_TOKEN: TOKEN,
    INFLUX_ORG: 'citytel coop',
    INFLUX_BUCKET: 'telemetry',
  });

  it('receives gzipped line protocol on /api/v2/write?org=&bucket=&precision=ns with Authorization: Token', async () => {
    const s = await standIn('2.x');
    await writeLines({ ...env(s.url), INGEST_GZIP_BYTES: '0' });
    expect(s.requests).toHaveLength(1);
    const w = s.requests[0]!;
    expect([w.method, w.path, w.query]).toEqual([
      'POST',
      '/api/v2/write',
      { org: 'citytel coop', bucket: 'telemetry', precision: 'ns' },
    ]);
    expect(w.authorization).toBe(`Token ${TOKEN}`);
    expect(w.contentEncoding).toBe(isLoopback(s.url) ? undefined : 'gzip');
    expect(w.body).toBe(LINES.join('\n'));
  });

  it('is read with InfluxQL on the v1-compatible /query (db = bucket), with Authorization: Token', async () => {
    const s = await standIn('2.x');
    const { read, ready } = apiClientsFromEnv(env(s.url));
    expect(await read.query(STATEMENT)).toEqual([SERIES]);
    const chunks: unknown[] = [];
    for await (const c of read.queryChunks(STATEMENT, { chunkSize: 5000 })) chunks.push(c);
    expect(chunks).toEqual([[SERIES]]);
    expect(await ready.query(STATEMENT)).toEqual([SERIES]);
    await ready.ping();

    expect(s.requests.map((r) => [r.method, r.path, r.query, r.authorization])).toEqual([
      ['GET', '/query', { db: 'telemetry', epoch: 'ms', q: STATEMENT }, `Token ${TOKEN}`],
      [
        'GET',
        '/query',
        { db: 'telemetry', epoch: 'ms', q: STATEMENT, chunked: 'true', chunk_size: '5000' },
        `Token ${TOKEN}`,
      ],
      ['GET', '/query', { db: 'telemetry', q: STATEMENT, epoch: 'ms' }, `Token ${TOKEN}`],
      ['GET', '/ping', {}, `Token ${TOKEN}`],
    ]);
  });
});

describe('InfluxDB 3.x (stand-in)', () => {
  // InfluxDB 3 has databases, no organisations: INFLUX_ORG stays unset, INFLUX_BUCKET names the database.
  const env = (url: string) => ({ INFLUX_URL: url, INFLUX_TOKEN: TOKEN, INFLUX_BUCKET: 'telemetry' });

  it('receives line protocol on /api/v2/write?bucket=&precision=ns, as its own client sends it', async () => {
    const s = await standIn('3.x');
    await writeLines({ ...env(s.url), INGEST_GZIP_BYTES: '0' });
    expect(s.requests).toHaveLength(1);
    const w = s.requests[0]!;
    expect([w.method, w.path, w.query]).toEqual([
      'POST',
      '/api/v2/write',
      { bucket: 'telemetry', precision: 'ns' },
    ]);
    expect(w.authorization).toBe(`Token ${TOKEN}`);
    expect(w.contentEncoding).toBe(isLoopback(s.url) ? undefined : 'gzip');
    expect(w.body).toBe(LINES.join('\n'));
  });

  it('is read with GET /query (the only method it serves there) and pinged with its 200', async () => {
    const s = await standIn('3.x');
    const { read, ready } = apiClientsFromEnv(env(s.url));
    expect(await read.query(STATEMENT)).toEqual([SERIES]);
    await read.ping();
    await ready.ping();
    expect(await ready.query(STATEMENT)).toEqual([SERIES]);
    await read.write('map_1h,cell=gbsuv7 mean=8.2 1795860900000');

    expect(s.requests.map((r) => [r.method, r.path, r.query, r.authorization])).toEqual([
      ['GET', '/query', { db: 'telemetry', epoch: 'ms', q: STATEMENT }, `Token ${TOKEN}`],
      ['GET', '/ping', {}, `Token ${TOKEN}`],
      ['GET', '/ping', {}, `Token ${TOKEN}`],
      ['GET', '/query', { db: 'telemetry', q: STATEMENT, epoch: 'ms' }, `Token ${TOKEN}`],
      ['POST', '/write', { db: 'telemetry', precision: 'ms' }, `Token ${TOKEN}`],
    ]);
  });
});

describe('set-up of a missing bucket or database (stand-ins)', () => {
  it('2.x: looks the bucket up, finds the organisation, creates the bucket with the token', async () => {
    const s = await standIn('2.x');
    const r = await ensureInfluxDatabase({ url: s.url, db: 'telemetry', token: TOKEN, org: 'citytel coop' });
    expect(r).toEqual({ state: 'ready', created: true });
    expect(s.requests.map((q) => [q.method, q.path, q.query, q.authorization])).toEqual([
      ['GET', '/api/v2/buckets', { name: 'telemetry', org: 'citytel coop' }, `Token ${TOKEN}`],
      ['GET', '/api/v2/orgs', { org: 'citytel coop' }, `Token ${TOKEN}`],
      ['POST', '/api/v2/buckets', {}, `Token ${TOKEN}`],
    ]);
    expect(JSON.parse(s.requests[2]!.body)).toEqual({
      orgID: '0a1b2c3d4e5f6a7b',
      name: 'telemetry',
      retentionRules: [],
    });
  });

  it('2.x: a token that may not creates nothing and says what to run', async () => {
    const s = await standIn('2.x');
    const r = await ensureInfluxDatabase({
      url: s.url,
      db: 'telemetry',
      token: 'wrong',
      org: 'citytel coop',
    });
    expect(r.state).toBe('refused');
    expect(r.state === 'refused' && r.message).toContain('INFLUX_TOKEN');
  });

  it('3.x: lists the databases, creates it with POST /api/v3/configure/database', async () => {
    const s = await standIn('3.x');
    const r = await ensureInfluxDatabase({ url: s.url, db: 'x', bucket: 'telemetry', token: TOKEN });
    expect(r).toEqual({ state: 'ready', created: true });
    expect(s.requests.map((q) => [q.method, q.path, q.query, q.authorization])).toEqual([
      ['GET', '/api/v3/configure/database', { format: 'json' }, `Token ${TOKEN}`],
      ['POST', '/api/v3/configure/database', {}, `Token ${TOKEN}`],
    ]);
    expect(JSON.parse(s.requests[1]!.body)).toEqual({ db: 'telemetry' });
  });
});
