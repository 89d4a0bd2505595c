import { encodeAirrohr, geohash, stamp, topics } from '@citytel/contract';
import { describe, expect, it } from 'vitest';
import type { Outcome } from './outcome.ts';
import { createPipeline, type InboundMessage } from './pipeline.ts';
import { lineText } from './points.ts';
import { cacheOf, device } from './testing.ts';

const RECEIVED = Date.UTC(2026, 10, 22, 10, 16, 0);
const NS = (ms: number, offset = 0) => `${ms}${String(offset).padStart(6, '0')}`;
const RENNES = { lat: 48.1113, lon: -1.68 };
const GH = geohash(RENNES);

const registry = [
  device('kit-1', { lat: RENNES.lat, lon: RENNES.lon }),
  device('bike-1', { mobile: true }),
  device('home-1', { lat: RENNES.lat, lon: RENNES.lon, indoor: true }),
  device('nowhere', {}),
  device('air-1', { kind: 'airrohr', lat: RENNES.lat, lon: RENNES.lon }),
  { ...device('sck-1', { kind: 'sck', lat: RENNES.lat, lon: RENNES.lon }), token: 'ab12cd' },
  device('car-1', { kind: 'vehicle' }),
];

async function run(topic: string, body: string | Buffer, opts: { stamped?: boolean; retain?: boolean } = {}) {
  const pipeline = createPipeline({ devices: cacheOf(registry), now: () => new Date(RECEIVED + 999) });
  const raw = typeof body === 'string' ? Buffer.from(body) : body;
  const msg: InboundMessage = {
    topic,
    payload: opts.stamped === false ? raw : stamp(raw, RECEIVED),
    retain: opts.retain,
  };
  const o = await pipeline.process(msg);
  // Points as text, whichever form the pipeline gave them.
  return { ...o, lines: o.lines.map(lineText) } satisfies Outcome;
}

describe('native readings', () => {
  it('become one point with the device time, registered position, tags and fields', async () => {
    const o = await run(
      topics.sensorReadings('kit-1'),
      JSON.stringify({ ts: '2026-11-22T10:15:00Z', lat: 1, lon: 2, pm25: 8.2, pm10: 14, noise_laeq: 58.4 }),
    );
    expect(o.rejected).toBeUndefined();
    expect(o.fields).toEqual([]);
    expect(o.lines).toEqual([
      `readings,device=kit-1,gh=${GH},kind=native,loc=fixed pm25=8.2,pm10=14,noise_laeq=58.4,lat=48.1113,lon=-1.68,tsrc="device" ${NS(Date.UTC(2026, 10, 22, 10, 15))}`,
    ]);
    expect(o.seen).toEqual({ id: 'kit-1', at: new Date(RECEIVED) });
    expect(o.times).toEqual({ device: 1, broker: 0, ingest: 0 });
  });

  it('keep the other fields when one is out of range', async () => {
    const o = await run(
      topics.sensorReadings('kit-1'),
      JSON.stringify({ pm25: -3, humidity: 120, temperature: 11.2 }),
    );
    expect(o.rejected).toBeUndefined();
    expect(o.fields.map((f) => [f.field, f.reason])).toEqual([
      ['pm25', 'out_of_range'],
      ['humidity', 'out_of_range'],
    ]);
    expect(o.lines).toHaveLength(1);
    expect(o.lines[0]).toContain(' temperature=11.2,lat=48.1113,lon=-1.68,tsrc="broker" ');
  });

  it('take the broker stamp when the device sends no time, apart by a nanosecond each in a batch', async () => {
    const o = await run(
      topics.sensorReadings('kit-1'),
      JSON.stringify({ readings: [{ pm25: 1 }, { pm25: 2 }, { pm25: 3 }] }),
    );
    expect(o.lines.map((l) => l.split(' ')[2])).toEqual([NS(RECEIVED, 0), NS(RECEIVED, 1), NS(RECEIVED, 2)]);
    expect(o.times.broker).toBe(3);
  });

  it('replace a time more than 5 minutes ahead with the stamp, and say so', async () => {
    const o = await run(
      topics.sensorReadings('kit-1'),
      JSON.stringify({ ts: '2026-11-22T11:00:00Z', pm25: 1 }),
    );
    expect(o.lines[0]!.split(' ')[2]).toBe(NS(RECEIVED));
    expect(o.fields).toEqual([expect.objectContaining({ field: 'ts', reason: 'bad_time' })]);
  });

  it('use ingest clock (and say so) when the broker did not stamp the message', async () => {
    const o = await run(topics.sensorReadings('kit-1'), JSON.stringify({ pm25: 1 }), { stamped: false });
    expect(o.lines[0]).toMatch(new RegExp(`tsrc="ingest" ${NS(RECEIVED + 999)}$`));
  });

  it('place a mobile kit where it reports, and refuse its readings without a position', async () => {
    const placed = await run(
      topics.sensorReadings('bike-1'),
      JSON.stringify({ lat: 48.12, lon: -1.7, pm25: 5 }),
    );
    expect(placed.lines[0]).toMatch(
      new RegExp(`^readings,device=bike-1,gh=${geohash({ lat: 48.12, lon: -1.7 })},kind=native,loc=mobile `),
    );
    const lost = await run(topics.sensorReadings('bike-1'), JSON.stringify({ pm25: 5 }));
    expect(lost.rejected?.reason).toBe('missing_position');
    expect(lost.lines).toEqual([]);
  });

  it('mark an indoor kit as such (the api blurs its position)', async () => {
    const o = await run(topics.sensorReadings('home-1'), JSON.stringify({ pm25: 5 }));
    expect(o.lines[0]).toMatch(
      new RegExp(
        `^readings,device=home-1,gh=${GH},kind=native,loc=indoor pm25=5,lat=48.1113,lon=-1.68,tsrc=`,
      ),
    );
  });

  it('refuse an unknown device and garbage bytes with their reasons', async () => {
    expect((await run(topics.sensorReadings('ghost'), '{"pm25":1}')).rejected?.reason).toBe('unknown_device');
    expect(
      (await run(topics.sensorReadings('kit-1'), Buffer.from([0xff, 0xfe, 0x00, 0x80]))).rejected?.reason,
    ).toBe('malformed');
    expect((await run(topics.sensorReadings('kit-1'), '{"pm25":')).rejected?.reason).toBe('not_json');
    expect((await run(topics.sensorReadings('kit-1'), '{}')).rejected?.reason).toBe('no_valid_values');
  });

  it('refuse a fixed kit with no registered or reported position', async () => {
    const o = await run(topics.sensorReadings('nowhere'), JSON.stringify({ pm25: 5 }));
    expect(o.rejected?.reason).toBe('missing_position');
    const placed = await run(topics.sensorReadings('nowhere'), JSON.stringify({ pm25: 5, ...RENNES }));
    expect(placed.lines).toHaveLength(1);
  });
});

describe('Smart Citizen kits', () => {
  it('raw: sensor ids to metrics, kPa to hPa, found by token', async () => {
    const o = await run(
      topics.sckRaw('ab12cd'),
      '{ 87:8.2, t:2026-11-22T10:15:00Z ,88:14.0,58:101.23,56:null,9999:3}',
    );
    expect(o.deviceId).toBe('sck-1');
    expect(o.lines).toEqual([
      `readings,device=sck-1,gh=${GH},kind=sck,loc=fixed pm25=8.2,pm10=14,pressure=1012.3,lat=48.1113,lon=-1.68,tsrc="device" ${NS(Date.UTC(2026, 10, 22, 10, 15))}`,
    ]);
    expect(o.fields.map((f) => f.reason)).toEqual(['unknown_sensor']);
  });

  it('JSON: one point per recorded_at', async () => {
    const body = {
      data: [
        { recorded_at: '2026-11-22T10:14:00Z', sensors: [{ id: 87, value: 8 }] },
        { recorded_at: '2026-11-22T10:15:00Z', sensors: [{ id: 87, value: 9 }] },
      ],
    };
    const o = await run(topics.sckJson('ab12cd'), JSON.stringify(body));
    expect(o.lines.map((l) => l.split(' ').slice(1).join(' '))).toEqual([
      `pm25=8,lat=48.1113,lon=-1.68,tsrc="device" ${NS(Date.UTC(2026, 10, 22, 10, 14))}`,
      `pm25=9,lat=48.1113,lon=-1.68,tsrc="device" ${NS(Date.UTC(2026, 10, 22, 10, 15))}`,
    ]);
  });

  it('hello and info update last seen (info with the firmware) and store no reading', async () => {
    const hello = await run(topics.sckHello('ab12cd'), 'ab12cd:Hello', { stamped: false });
    expect(hello.lines).toEqual([]);
    expect(hello.rejected).toBeUndefined();
    expect(hello.seen?.id).toBe('sck-1');
    const info = await run(
      topics.sckInfo('ab12cd'),
      JSON.stringify({
        time: '2026-11-22T10:15:00Z',
        hw_ver: '2.1',
        sam_ver: '0.9.8-a1b2',
        esp_ver: '0.9.8-c3d4',
      }),
      { stamped: false },
    );
    expect(info.lines).toEqual([]);
    expect(info.seen).toEqual({
      id: 'sck-1',
      at: new Date(RECEIVED + 999),
      firmware: 'sam 0.9.8-a1b2 / esp 0.9.8-c3d4 / hw 2.1',
    });
  });

  it('an unknown token is an unknown device', async () => {
    expect((await run(topics.sckRaw('zz99zz'), '{87:1}')).rejected?.reason).toBe('unknown_device');
  });
});

describe('airrohr', () => {
  it('string values and prefixed value types, at the receive time', async () => {
    const body = encodeAirrohr('13463245', { pm10: 14, pm25: 8.2, temperature: 11.2, pressure: 1012.3 });
    const o = await run(topics.sensorAirrohr('air-1'), JSON.stringify(body));
    expect(o.lines).toEqual([
      `readings,device=air-1,gh=${GH},kind=airrohr,loc=fixed pm25=8.2,pm10=14,temperature=11.2,pressure=1012.3,pmc="none:no_humidity",lat=48.1113,lon=-1.68,tsrc="broker" ${NS(RECEIVED)}`,
    ]);
  });
});

describe('vehicle telemetry', () => {
  const telemetry = {
    ts: '2026-11-22T10:15:00Z',
    lat: 48.1113,
    lon: -1.68,
    speed_kmh: 32.5,
    heading: 270,
    fuel_pct: 62,
    battery_pct: null,
    ignition: true,
    locked: false,
    air: { pm25: 9.1, noise_laeq: 66 },
  };

  it('is one vehicle point and, with an air block, one mobile reading at the same place and time', async () => {
    const o = await run(topics.vehicleTelemetry('car-1'), JSON.stringify(telemetry));
    const t = NS(Date.UTC(2026, 10, 22, 10, 15));
    expect(o.lines).toEqual([
      `vehicles,gh=${GH},vehicle=car-1 speed_kmh=32.5,heading=270,fuel_pct=62,ignition=true,locked=false,lat=48.1113,lon=-1.68,tsrc="device" ${t}`,
      `readings,device=car-1,gh=${GH},kind=vehicle,loc=mobile pm25=9.1,noise_laeq=66,lat=48.1113,lon=-1.68,tsrc="device" ${t}`,
    ]);
  });

  it('keeps the car fields when the air block is bad', async () => {
    const o = await run(
      topics.vehicleTelemetry('car-1'),
      JSON.stringify({ ...telemetry, air: { pm25: 'x' }, heading: 999 }),
    );
    expect(o.lines).toHaveLength(1);
    expect(o.fields.map((f) => [f.field, f.reason])).toEqual([
      ['heading', 'out_of_range'],
      ['air.pm25', 'wrong_type'],
    ]);
  });

  it('live status is a point; a retained replay is not', async () => {
    const live = await run(topics.vehicleStatus('car-1'), '{"online":false}', { stamped: false });
    expect(live.lines).toEqual([`vehicles,vehicle=car-1 online=false,tsrc="ingest" ${NS(RECEIVED + 999)}`]);
    const replay = await run(topics.vehicleStatus('car-1'), '{"online":true}', {
      stamped: false,
      retain: true,
    });
    expect(replay.lines).toEqual([]);
    expect(replay.rejected).toBeUndefined();
  });
});

describe('device times', () => {
  it('an absurd epoch ("ts":1e308) is no time at all: the stamp is used', async () => {
    const o = await run(topics.sensorReadings('kit-1'), '{"ts":1e308,"pm25":1}');
    expect(o.lines[0]).toMatch(new RegExp(`tsrc="broker" ${NS(RECEIVED)}$`));
    expect(o.fields.map((f) => f.reason)).toEqual(['bad_time']);
  });
});
