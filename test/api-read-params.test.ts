import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReadStack, startReadStack } from './helpers/api-read.ts';
import { DEVICES, edgeReadings } from './helpers/api-read-data.ts';

let stack: ReadStack;
beforeAll(async () => {
  stack = await startReadStack({ devices: DEVICES, broker: true });
  await stack.write(edgeReadings());
  // A measurement no public query reads: a successful injection would show its value.
  await stack.write(['secrets,owner=x leaked=424242 1764064800000']);
});
afterAll(async () => {
  await stack?.close();
});

const errorOf = async (path: string, headers: Record<string, string> = {}) => {
  const r = await stack.get(path, headers);
  const text = await r.text();
  return {
    status: r.status,
    text,
    error: (JSON.parse(text) as { error?: { code: string; message: string } }).error,
  };
};

/** Each case: a request with one bad parameter, and the name the 400 must give. */
const BAD: Array<[string, string]> = [
  ['/api/v1/devices?kind=toaster', 'querystring.kind'],
  ['/api/v1/devices?metric=pm3', 'querystring.metric'],
  ['/api/v1/devices?bbox=1,2,3', 'querystring.bbox'],
  ['/api/v1/devices?bbox=2,1,1,2', 'querystring.bbox'],
  ['/api/v1/devices/kit-a/series', 'querystring.metric'],
  ['/api/v1/devices/kit-a/series?metric=pm3', 'querystring.metric'],
  ['/api/v1/devices/kit-a/series?metric=pm25&from=yesterday', 'querystring.from'],
  ['/api/v1/devices/kit-a/series?metric=pm25&to=2026-11-22T10:00:00', 'querystring.to'],
  ['/api/v1/devices/kit-a/series?metric=pm25&from=-1h&to=-2h', 'querystring.from'],
  ['/api/v1/devices/kit-a/series?metric=pm25&every=30s', 'querystring.every'],
  ['/api/v1/devices/kit-a/series?metric=pm25&every=2d', 'querystring.every'],
  ['/api/v1/devices/kit-a/series?metric=pm25&every=1m&from=-30d', 'querystring.every'],
  ['/api/v1/devices/kit-a/series?metric=pm25&fn=avg', 'querystring.fn'],
  ['/api/v1/devices/kit%20a/series?metric=pm25', 'params.id'],
  ['/api/v1/map', 'querystring.metric'],
  ['/api/v1/map?metric=pm25&window=1y', 'querystring.window'],
  ['/api/v1/map?metric=pm25&window=400d', 'querystring.window'],
  ['/api/v1/map?metric=pm25&cell=10', 'querystring.cell'],
  ['/api/v1/map?metric=pm25&cell=seven', 'querystring.cell'],
  ['/api/v1/map?metric=pm25&bbox=-181,0,1,1', 'querystring.bbox'],
  ['/api/v1/map?metric=pm25&to=soon', 'querystring.to'],
  ['/api/v1/export?format=xml', 'querystring.format'],
  ['/api/v1/export?metric=pm3', 'querystring.metric'],
  ['/api/v1/export?every=1w', 'querystring.every'],
  ['/api/v1/export?from=-2y', 'querystring.from'],
  ['/api/v1/export?device=a;b', 'querystring.device'],
  ['/api/v1/export?kind=x', 'querystring.kind'],
  ['/api/v1/stream?lastEventId=abc', 'querystring.lastEventId'],
];

describe('bad parameters', () => {
  for (const [path, name] of BAD) {
    it(`${path} answers 400 naming ${name}`, async () => {
      const { status, error } = await errorOf(path);
      expect(status).toBe(400);
      expect(error?.code).toBe('invalid_parameter');
      expect(error?.message).toContain(name);
    });
  }

  it('a bad Last-Event-ID header answers 400 naming it', async () => {
    const { status, error } = await errorOf('/api/v1/stream', { 'Last-Event-ID': 'x' });
    expect(status).toBe(400);
    expect(error?.message).toContain('last-event-id');
  });
});

/** Values that would change a query if pasted into InfluxQL. */
const ATTACKS = [
  `kit-a' OR "device" =~ /.*/ --`,
  `pm25" FROM "secrets" --`,
  `x'; DROP DATABASE "telemetry"; --`,
  `now() - 1000d`,
  `1h) fill(0); SELECT * FROM "secrets" --`,
  `/.*/`,
  '-1.7,48.1,-1.6,48.2) OR (1=1',
  `7; SELECT * FROM secrets`,
  `\\' OR 1=1`,
];

const PARAMS: Record<string, { path: string; names: string[] }> = {
  devices: { path: '/api/v1/devices', names: ['kind', 'metric', 'bbox'] },
  series: {
    path: '/api/v1/devices/kit-a/series?metric=pm25',
    names: ['metric', 'from', 'to', 'every', 'fn', 'flagged', 'corrected'],
  },
  noise: { path: '/api/v1/devices/kit-a/noise-indicators', names: ['from', 'to'] },
  map: {
    path: '/api/v1/map?metric=pm25',
    names: ['metric', 'window', 'to', 'bbox', 'cell', 'corrected', 'flagged'],
  },
  export: {
    path: '/api/v1/export?metric=pm25',
    names: ['metric', 'from', 'to', 'bbox', 'device', 'kind', 'format', 'sensor', 'every', 'fn'],
  },
  stream: { path: '/api/v1/stream', names: ['lastEventId'] },
};

describe('InfluxQL injection', () => {
  for (const [route, { path, names }] of Object.entries(PARAMS)) {
    for (const name of names) {
      it(`${route}: every attack through ${name} is refused with 400`, async () => {
        for (const attack of ATTACKS) {
          const sep = path.includes('?') ? '&' : '?';
          const { status, text } = await errorOf(`${path}${sep}${name}=${encodeURIComponent(attack)}`);
          expect(status, `${name}=${attack}`).toBe(400);
          expect(text).not.toContain('424242');
        }
      });
    }
  }

  it('series: every attack through the device id is refused with 400', async () => {
    for (const attack of ATTACKS) {
      const { status } = await errorOf(`/api/v1/devices/${encodeURIComponent(attack)}/series?metric=pm25`);
      expect([400, 404]).toContain(status);
    }
  });

  it('left the database and its data as they were', async () => {
    const series = await stack.query.query('SELECT count("leaked") FROM "secrets"');
    expect(series[0]?.values[0]?.[1]).toBe(1);
    const r = await stack.get(
      '/api/v1/devices/kit-a/series?metric=pm25&from=2026-11-25T11:00:00Z&to=2026-11-25T12:00:00Z&fn=count',
    );
    expect(r.status).toBe(200);
  });
});

describe('OpenAPI document', () => {
  it('documents each read route with the parameters it validates', async () => {
    const r = await stack.get('/docs/json');
    expect(r.status).toBe(200);
    const doc = (await r.json()) as {
      paths: Record<
        string,
        Record<
          string,
          { parameters?: Array<{ name: string; in: string }>; responses: Record<string, unknown> }
        >
      >;
    };
    const params = (path: string, where: string) =>
      (doc.paths[path]?.get?.parameters ?? [])
        .filter((p) => p.in === where)
        .map((p) => p.name)
        .sort();
    for (const [route, { path, names }] of Object.entries(PARAMS)) {
      const docPath = path.split('?')[0]!.replace('/kit-a/', '/{id}/');
      expect(params(docPath, 'query'), route).toEqual([...names].sort());
      expect(Object.keys(doc.paths[docPath]!.get!.responses).sort(), route).toContain('400');
    }
    expect(params('/api/v1/devices/{id}/series', 'path')).toEqual(['id']);
    expect(params('/api/v1/stream', 'header')).toEqual(['last-event-id']);
    const documented = new Set(Object.keys(doc.paths));
    for (const route of stack.app.registeredRoutes.filter((x) => !x.hidden && x.url.startsWith('/api/v1/'))) {
      expect(documented.has(route.url.replace(/:(\w+)/g, '{$1}')), route.url).toBe(true);
    }
  });
});
