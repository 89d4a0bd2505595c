import mqtt, { type MqttClient } from 'mqtt';
import ngeohash from 'ngeohash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseClient } from '../helpers/api-read.ts';
import { startWholeSystem, type WholeSystem } from '../helpers/dashboard-stack.ts';
import { eventually } from '../helpers/ingest.ts';

/**
 * What someone without an account learns about a car in a member's booking, and about citizens' mobile
 * kits, from every public answer of the real platform: broker over TCP, ingest into a real influxd, the api
 * with its open-data routes and live stream. The car is a plain MQTT.js client publishing as its on-board
 * unit does; the questions are plain HTTP requests, as a stranger would ask them.
 */

const CAR = 'sec-car-1';
const STATION = { lat: 48.1102, lon: -1.6772 };
/** Where the member drives it: digits no cell centre or station shares. */
const CAR_AT = { lat: 48.123457, lon: -1.654321 };
const CAR_TRACES = ['48.12345', '48.12346', '-1.65432', '-1.65433'];
const WALKER = 'sec-walker';
const WALKER_AT = { lat: 48.117731, lon: -1.688113 };
const CYCLIST = 'sec-cyclist';
const CYCLIST_AT = { lat: 48.101234, lon: -1.701234 };
/** Words of a car's state that no public answer may carry. */
const STATE_WORDS =
  /locked|doors_?closed|doorsClosed|ignition|fuel|odometer|speed_kmh|speedKmh|battery_(pct|v)|batteryPct/i;

let sys: WholeSystem;
let car: MqttClient;
let kits: MqttClient[] = [];
let opA = { id: 'coop-a', token: '' };
let opB = { id: 'coop-b', token: '' };
let bookingId = '';
let publishing: NodeJS.Timeout | undefined;

async function http(
  method: string,
  path: string,
  o: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${sys.baseUrl}${path}`, {
    method,
    headers,
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) };
}

/** Asserts that a public answer carries neither the car's position nor any state of a car. */
function expectNothingOfTheCar(what: string, text: string) {
  for (const t of CAR_TRACES) expect(text, `${what} holds ${t}`).not.toContain(t);
  expect(text, `${what} names a car's state`).not.toMatch(STATE_WORDS);
}

const telemetry = () =>
  JSON.stringify({
    ts: new Date().toISOString(),
    ...CAR_AT,
    speed_kmh: 31.5,
    heading: 90,
    odometer_km: 48211.4,
    fuel_pct: 62,
    battery_v: 12.6,
    ignition: true,
    locked: false,
    doors_closed: true,
    air: { pm25: 42.5, pm10: 51 },
  });

beforeAll(async () => {
  sys = await startWholeSystem({ kits: 0, vehicles: 0, intervalS: 5 });
  opA = { id: 'coop-a', token: (await sys.store.operators.create({ id: 'coop-a', name: 'A' })).token };
  opB = { id: 'coop-b', token: (await sys.store.operators.create({ id: 'coop-b', name: 'B' })).token };
  const carSecret = (
    await sys.store.devices.create({
      id: CAR,
      kind: 'vehicle',
      operatorId: opA.id,
      lat: STATION.lat,
      lon: STATION.lon,
      mobile: true,
    })
  ).secret!;
  // The mobile kits, provisioned through the api: one with the default (its cell), one opted in.
  const provision = async (id: string, publicTrack: boolean) => {
    const r = await http('POST', '/api/v1/devices', {
      token: sys.adminToken,
      body: { id, kind: 'native', mobile: true, ...(publicTrack ? { publicTrack: true } : {}) },
    });
    expect(r.status, r.text).toBe(201);
    expect(r.json().publicTrack).toBe(publicTrack);
    return r.json().secret as string;
  };
  const walkerSecret = await provision(WALKER, false);
  const cyclistSecret = await provision(CYCLIST, true);
  const connect = (id: string, password: string) =>
    mqtt.connectAsync(sys.mqttUrl, { username: id, password, clientId: id, reconnectPeriod: 0 });
  kits = [await connect(WALKER, walkerSecret), await connect(CYCLIST, cyclistSecret)];
  await kits[0]!.publishAsync(`sensors/${WALKER}/readings`, JSON.stringify({ ...WALKER_AT, pm25: 17.5 }), {
    qos: 1,
  });
  await kits[1]!.publishAsync(`sensors/${CYCLIST}/readings`, JSON.stringify({ ...CYCLIST_AT, pm25: 18.5 }), {
    qos: 1,
  });

  // A member's booking running now, and the car driving in it.
  const now = Date.now();
  const booking = await http('POST', '/api/v1/bookings', {
    token: opA.token,
    body: {
      vehicleId: CAR,
      memberId: 'member-7',
      start: new Date(now - 60_000).toISOString(),
      end: new Date(now + 3_600_000).toISOString(),
    },
  });
  expect(booking.status, booking.text).toBe(201);
  bookingId = booking.json().id;
  car = await mqtt.connectAsync(sys.mqttUrl, {
    username: CAR,
    password: carSecret,
    clientId: CAR,
    reconnectPeriod: 0,
    will: { topic: `vehicles/${CAR}/status`, payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
  });
  await car.publishAsync(`vehicles/${CAR}/status`, '{"online":true,"locked":false}', {
    qos: 1,
    retain: true,
  });
  await car.publishAsync(`vehicles/${CAR}/telemetry`, telemetry(), { qos: 1 });
  publishing = setInterval(() => {
    car.publishAsync(`vehicles/${CAR}/telemetry`, telemetry(), { qos: 1 }).catch(() => {});
  }, 700);

  // Ready when the operator sees the car where it drives, from the fleet's live state and from InfluxDB.
  await eventually(
    'the car in its operator views',
    async () => {
      const fleet = (await http('GET', '/api/v1/vehicles', { token: opA.token })).json();
      const live = fleet.vehicles?.find((v: { id: string }) => v.id === CAR);
      const devices = (await http('GET', '/api/v1/devices?kind=vehicle', { token: opA.token })).json();
      const stored = devices.features?.find((f: { id: string }) => f.id === CAR);
      const kitsIn = (await http('GET', '/api/v1/devices')).json().features.length;
      return live?.position?.lat === CAR_AT.lat && stored?.geometry && kitsIn >= 2;
    },
    30_000,
  );
}, 120_000);

afterAll(async () => {
  clearInterval(publishing);
  await car?.endAsync(true);
  for (const k of kits) await k.endAsync(true);
  await sys?.close();
});

describe('a car in an active booking, to someone without an account', () => {
  it('is in no public list, map, export, fleet view or series', async () => {
    const from = encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString());
    const answers: Array<[string, string]> = [
      ['devices', '/api/v1/devices'],
      ['devices of kind vehicle', '/api/v1/devices?kind=vehicle'],
      ['devices around the car', `/api/v1/devices?bbox=-1.66,48.12,-1.65,48.13`],
      ['vehicles', '/api/v1/vehicles'],
      ['csv export', `/api/v1/export?from=${from}`],
      ['geojson export', `/api/v1/export?from=${from}&format=geojson`],
      ['export of the car', `/api/v1/export?from=${from}&device=${CAR}`],
      ['export of vehicles', `/api/v1/export?from=${from}&kind=vehicle&format=geojson`],
      ['bucketed export', `/api/v1/export?from=${from}&every=1m&format=geojson`],
      ...[6, 7, 8, 9].map((c): [string, string] => [`map cell ${c}`, `/api/v1/map?metric=pm25&cell=${c}`]),
      ['map of a minute', '/api/v1/map?metric=pm25&cell=9&window=1m'],
    ];
    for (const [what, path] of answers) {
      const r = await http('GET', path);
      expect(r.status, `${what}: ${r.text}`).toBe(200);
      expectNothingOfTheCar(what, r.text);
      // The export repeats the filter it was asked for (`device sec-car-1`); no row may name the car.
      expect(r.text.replaceAll(`device ${CAR}`, ''), what).not.toContain(CAR);
    }
    const series = await http('GET', `/api/v1/devices/${CAR}/series?metric=pm25`);
    expect([series.status, series.json().error.code]).toEqual([404, 'device_not_found']);
    // The public fleet view lists free cars only: this one is booked and away from its station.
    expect((await http('GET', '/api/v1/vehicles')).json()).toEqual({ view: 'public', vehicles: [] });
  });

  it('still feeds the public map with its air readings, anonymously, in its 7-cell', async () => {
    const cell = ngeohash.encode(CAR_AT.lat, CAR_AT.lon, 7);
    const map = (await http('GET', '/api/v1/map?metric=pm25&cell=7')).json();
    const here = map.features.find((f: { properties: { cell: string } }) => f.properties.cell === cell);
    expect(here?.properties).toMatchObject({ max: 42.5, devices: 1 });
    // At cell 9 the readings sit at the centre of that 7-cell, not where the car was.
    const fine = (await http('GET', '/api/v1/map?metric=pm25&cell=9')).json();
    const centre = ngeohash.decode(cell);
    expect(fine.features.map((f: { properties: { cell: string } }) => f.properties.cell)).toContain(
      ngeohash.encode(centre.latitude, centre.longitude, 9),
    );
    expect(fine.features.map((f: { properties: { cell: string } }) => f.properties.cell)).not.toContain(
      ngeohash.encode(CAR_AT.lat, CAR_AT.lon, 9),
    );
  });

  it('sends nothing of it on the live stream for several seconds of driving', async () => {
    const s = await sseClient(`${sys.baseUrl}/api/v1/stream`);
    try {
      await car.publishAsync(`vehicles/${CAR}/status`, '{"online":true,"locked":true}', {
        qos: 1,
        retain: true,
      });
      await car.publishAsync(`vehicles/${CAR}/status`, '{"online":true,"locked":false}', {
        qos: 1,
        retain: true,
      });
      // A kit's reading as a marker that the stream is flowing.
      await kits[0]!.publishAsync(`sensors/${WALKER}/readings`, JSON.stringify({ ...WALKER_AT, pm25: 19 }), {
        qos: 1,
      });
      const walker = await s.next((e) => e.event === 'reading' && e.data.includes(WALKER), 10_000);
      // A mobile kit without a public track: at its cell's centre here too.
      const cell = ngeohash.decode(ngeohash.encode(WALKER_AT.lat, WALKER_AT.lon, 7));
      const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
      expect(JSON.parse(walker.data)).toMatchObject({ lat: r6(cell.latitude), lon: r6(cell.longitude) });
      await new Promise((r) => setTimeout(r, 4000));
      expect(s.response.status).toBe(200);
      const all = s.events.map((e) => e.data).join('\n');
      expectNothingOfTheCar('live stream', all);
      // At most that it is online: no event of this car carries anything else.
      for (const e of s.events.filter((x) => x.data.includes(CAR))) {
        expect(e.event).toBe('vehicle');
        expect(Object.keys(JSON.parse(e.data)).sort()).toEqual(['online', 't', 'vehicle']);
      }
    } finally {
      await s.close();
    }
  });

  it('is shown in full to its operator, authenticated', async () => {
    const fleet = (await http('GET', '/api/v1/vehicles', { token: opA.token })).json();
    expect(fleet.view).toBe('operator');
    expect(fleet.vehicles.find((v: { id: string }) => v.id === CAR)).toMatchObject({
      position: CAR_AT,
      locked: false,
      ignition: true,
      doorsClosed: true,
      fuelPct: 62,
      odometerKm: 48211.4,
      currentBooking: { id: bookingId, memberId: 'member-7' },
    });
    const devices = (await http('GET', '/api/v1/devices?kind=vehicle', { token: opA.token })).json();
    const f = devices.features.find((x: { id: string }) => x.id === CAR);
    expect(f.geometry.coordinates).toEqual([CAR_AT.lon, CAR_AT.lat]);
    expect(f.properties.vehicle).toMatchObject({
      locked: false,
      doors_closed: true,
      ignition: true,
      fuel_pct: 62,
    });
    const series = await http('GET', `/api/v1/devices/${CAR}/series?metric=pm25&every=1m&from=-10m`, {
      token: opA.token,
    });
    expect(series.status, series.text).toBe(200);
    expect(series.headers.get('cache-control')).toMatch(/^private/);
    expect(series.json().points.some((p: { v: number | null }) => p.v === 42.5)).toBe(true);
  });
});

describe('another operator', () => {
  it('can neither list, book, command, audit nor read the car', async () => {
    const command = await http('POST', `/api/v1/vehicles/${CAR}/commands`, {
      token: opA.token,
      headers: { 'idempotency-key': 'sec-unlock-1' },
      body: { action: 'unlock', bookingId },
    });
    expect(command.status, command.text).toBe(202);
    const commandId = command.json().id as string;

    const fleet = (await http('GET', '/api/v1/vehicles', { token: opB.token })).json();
    expect(fleet.view).toBe('operator');
    expect(fleet.vehicles.map((v: { id: string }) => v.id)).not.toContain(CAR);
    const devices = await http('GET', '/api/v1/devices', { token: opB.token });
    expect(devices.text).not.toContain(CAR);
    expectNothingOfTheCar("B's devices", devices.text);

    const now = Date.now();
    const book = await http('POST', '/api/v1/bookings', {
      token: opB.token,
      body: {
        vehicleId: CAR,
        memberId: 'their-member',
        start: new Date(now + 7_200_000).toISOString(),
        end: new Date(now + 9_000_000).toISOString(),
      },
    });
    expect([403, 404]).toContain(book.status);
    const unlock = await http('POST', `/api/v1/vehicles/${CAR}/commands`, {
      token: opB.token,
      headers: { 'idempotency-key': 'sec-unlock-b' },
      body: { action: 'unlock', bookingId },
    });
    expect([403, 404]).toContain(unlock.status);
    const audit = await http('GET', `/api/v1/commands?vehicleId=${CAR}`, { token: opB.token });
    expect(audit.status === 200 ? audit.json().commands : []).toEqual([]);
    const byBooking = await http('GET', `/api/v1/commands?bookingId=${bookingId}`, { token: opB.token });
    expect(byBooking.status === 200 ? byBooking.json().commands : []).toEqual([]);
    expect((await http('GET', `/api/v1/commands/${commandId}`, { token: opB.token })).status).toBe(404);
    expect((await http('GET', `/api/v1/bookings/${bookingId}`, { token: opB.token })).status).toBe(404);
    const cancel = await http('DELETE', `/api/v1/bookings/${bookingId}`, { token: opB.token });
    expect(cancel.status).toBe(404);
    const series = await http('GET', `/api/v1/devices/${CAR}/series?metric=pm25`, { token: opB.token });
    expect(series.status).toBe(404);
    const rejections = await http('GET', `/api/v1/devices/${CAR}/rejections`, { token: opB.token });
    expect([403, 404]).toContain(rejections.status);
    // And the booking is still there for its operator.
    expect((await http('GET', `/api/v1/bookings/${bookingId}`, { token: opA.token })).json().state).not.toBe(
      'cancelled',
    );
  });
});

describe('mobile citizen kits', () => {
  it('show their cell publicly, unless the owner opted in to an exact track', async () => {
    const devices = (await http('GET', '/api/v1/devices')).json();
    const at = (id: string) =>
      devices.features.find((f: { id: string }) => f.id === id)?.geometry?.coordinates;
    const cell = ngeohash.decode(ngeohash.encode(WALKER_AT.lat, WALKER_AT.lon, 7));
    const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
    expect(at(WALKER)).toEqual([r6(cell.longitude), r6(cell.latitude)]);
    expect(at(CYCLIST)).toEqual([CYCLIST_AT.lon, CYCLIST_AT.lat]);
    const from = encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString());
    const csv = (await http('GET', `/api/v1/export?from=${from}&metric=pm25`)).text;
    expect(csv).not.toContain(String(WALKER_AT.lat));
    expect(csv).toContain(`${WALKER},native,mobile,${r6(cell.latitude)},${r6(cell.longitude)},17.5`);
    expect(csv).toContain(`${CYCLIST},native,mobile,${CYCLIST_AT.lat},${CYCLIST_AT.lon},18.5`);
    // Its owner's operator (here the admin that provisioned it) sees where it was.
    const mine = (await http('GET', '/api/v1/devices', { token: sys.adminToken })).json();
    expect(mine.features.find((f: { id: string }) => f.id === WALKER).geometry.coordinates).toEqual([
      WALKER_AT.lon,
      WALKER_AT.lat,
    ]);
  });

  it('refuses a public track for a car or a fixed kit at provisioning', async () => {
    for (const body of [
      { id: 'sec-car-2', kind: 'vehicle', publicTrack: true },
      { id: 'sec-fixed', kind: 'native', lat: 48.1, lon: -1.6, publicTrack: true },
    ]) {
      const r = await http('POST', '/api/v1/devices', { token: sys.adminToken, body });
      expect(r.status, r.text).toBe(400);
      expect(r.json().error.message).toMatch(/publicTrack/);
    }
  });
});
