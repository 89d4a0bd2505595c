import {
  AIRROHR_SENSOR_HEADER,
  airrohrBodySchema,
  decodeAirrohr,
  decodeNative,
  decodeSckJson,
  decodeSckRaw,
  decodeVehicleTelemetry,
  METRIC_NAMES,
  nativeReadingSchema,
  parseTopic,
  sckJsonSchema,
  vehicleTelemetrySchema,
} from '@citytel/contract';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RENNES } from '../city.ts';
import { createClock } from '../clock.ts';
import { createModel } from '../model.ts';
import { planFleet } from '../plan.ts';
import { createCounters } from '../stats.ts';
import { Car } from '../vehicles/car.ts';
import { roadGraph } from '../vehicles/routes.ts';
import { AirrohrKit } from './airrohr.ts';
import type { KitDeps } from './base.ts';
import { NativeKit } from './native.ts';
import { SckKit, sckJson, sckRaw } from './sck.ts';

const TS = new Date('2026-11-22T10:15:00Z');
const NOW = TS.getTime();

function deps(): KitDeps {
  return {
    model: createModel({ seed: 3, city: RENNES }),
    clock: createClock(1, () => NOW),
    counters: createCounters(),
    log: pino({ level: 'silent' }),
    city: RENNES,
    graph: roadGraph(RENNES),
    seed: 3,
    mqttUrl: 'mqtt://127.0.0.1:1',
    apiUrl: 'http://127.0.0.1:1',
    fetch,
    intervalS: 60,
    onAuthFailure: () => undefined,
  };
}
const plan = planFleet({ seed: 3, kits: 40, vehicles: 6, prefix: 'sim', city: RENNES });

describe('Smart Citizen payloads', () => {
  it('are byte for byte what the firmware sends', () => {
    expect(
      sckRaw(TS, {
        pm25: 8.2,
        pm10: 14,
        noise_laeq: 58.4,
        temperature: 11.2,
        humidity: 71,
        pressure: 1012.3,
      }),
    ).toBe('{t:2026-11-22T10:15:00Z,87:8.2,88:14,53:58.4,55:11.2,56:71,58:101.23}');
    expect(sckRaw(TS, { pm25: 8.2, pm10: null, temperature: 11.2 })).toBe(
      '{t:2026-11-22T10:15:00Z,87:8.2,55:11.2,88:null}',
    );
    expect(JSON.parse(sckJson(TS, { pm25: 8.2, pm10: null }))).toEqual({
      data: [
        {
          recorded_at: '2026-11-22T10:15:00.000Z',
          sensors: [
            { id: 87, value: 8.2 },
            { id: 88, value: null },
          ],
        },
      ],
    });
  });

  it('round-trip through the contract decoders, nulls dropped', () => {
    const values = {
      pm1: 5.7,
      pm25: 8.2,
      pm10: 14,
      noise_laeq: 58.4,
      temperature: 11.25,
      humidity: 71,
      light: 320,
      battery: 88,
    };
    const raw = decodeSckRaw(sckRaw(TS, { ...values, pressure: null }));
    expect(raw.error).toBeUndefined();
    expect(raw.rejections).toEqual([]);
    expect(raw.readings).toEqual([{ ts: TS, values }]);
    const json = decodeSckJson(sckJson(TS, { ...values, pressure: null }));
    expect(json.rejections).toEqual([]);
    expect(json.readings).toEqual([{ ts: TS, values }]);
    expect(decodeSckRaw(sckRaw(TS, { pressure: 1012.3 })).readings[0]!.values.pressure).toBeCloseTo(
      1012.3,
      9,
    );
  });

  it('go to the topics of the kit’s token, in the format it is set to', () => {
    const d = deps();
    const rawSpec = plan.kits.find((k) => k.kind === 'sck' && k.sckFormat === 'raw')!;
    const jsonSpec = plan.kits.find((k) => k.kind === 'sck' && k.sckFormat === 'json')!;
    const rawKit = new SckKit(rawSpec, { id: rawSpec.id, kind: 'sck', token: 'abc123' }, d);
    const jsonKit = new SckKit(jsonSpec, { id: jsonSpec.id, kind: 'sck', token: 'xyz789' }, d);
    const r = rawKit.measure()!;
    expect(parseTopic(r.topic)).toEqual({ kind: 'sck-raw', owner: 'abc123' });
    expect(r.payload).toMatch(/^\{t:2026-11-22T10:15:00Z,(\d+:(-?[\d.]+|null),?)+\}$/);
    expect(decodeSckRaw(r.payload).rejections).toEqual([]);
    const j = jsonKit.measure()!;
    expect(parseTopic(j.topic)).toEqual({ kind: 'sck-json', owner: 'xyz789' });
    expect(sckJsonSchema.safeParse(JSON.parse(j.payload)).success).toBe(true);
    expect(decodeSckJson(j.payload).rejections).toEqual([]);
    expect(Object.keys(rawKit.info())).toEqual([
      'time',
      'hw_ver',
      'id',
      'sam_ver',
      'sam_bd',
      'mac',
      'esp_ver',
      'esp_bd',
    ]);
  });
});

describe('airrohr posts', () => {
  it('carry the stock body with string values, the chip id header and Basic auth', () => {
    const spec = plan.kits.find((k) => k.kind === 'airrohr')!;
    const kit = new AirrohrKit(spec, { id: spec.id, kind: 'airrohr', secret: 's3cret' }, deps());
    const { body, headers } = kit.measure();
    expect(airrohrBodySchema.safeParse(body).success).toBe(true);
    expect(body.esp8266id).toBe(spec.chipId);
    expect(body.sensordatavalues.every((v) => typeof v.value === 'string')).toBe(true);
    expect(headers['x-sensor']).toBe(`esp8266-${spec.chipId}`);
    expect(AIRROHR_SENSOR_HEADER.test(headers['x-sensor']!)).toBe(true);
    expect(headers.authorization).toBe(`Basic ${Buffer.from(`${spec.id}:s3cret`).toString('base64')}`);
    const decoded = decodeAirrohr(JSON.stringify(body));
    expect(decoded.rejections).toEqual([]);
    expect(decoded.readings[0]!.ts).toBeUndefined();
    const kept = Object.keys(decoded.readings[0]!.values);
    expect(kept.length).toBeGreaterThan(0);
    for (const m of kept) expect(spec.sensors).toContain(m);
  });
});

describe('native readings', () => {
  it('fit the contract schema and decode without rejection; a mobile kit sends its position', () => {
    const d = deps();
    for (const spec of plan.kits.filter((k) => k.kind === 'native')) {
      const kit = new NativeKit(spec, { id: spec.id, kind: 'native', secret: 'x' }, d);
      const r = kit.measure();
      expect(nativeReadingSchema.safeParse(r).success).toBe(true);
      expect(r.ts).toBe('2026-11-22T10:15:00Z');
      const decoded = decodeNative(JSON.stringify(r));
      expect(decoded.rejections).toEqual([]);
      expect(decoded.readings[0]!.ts).toEqual(TS);
      if (spec.mobile) expect(decoded.readings[0]!.position).toEqual({ lat: r.lat, lon: r.lon });
      else expect(r).not.toHaveProperty('lat');
      for (const m of Object.keys(decoded.readings[0]!.values)) expect(METRIC_NAMES).toContain(m);
    }
  });
});

describe('vehicle telemetry', () => {
  it('fits CONTRACT §2.4, with fuel or battery and an air block for a third of the cars', () => {
    const d = deps();
    for (const spec of plan.vehicles) {
      const car = new Car(spec, RENNES, d.graph, 3, NOW);
      car.advance(NOW + 60_000);
      const t = car.telemetry(NOW, NOW + 60_000, d.model);
      expect(vehicleTelemetrySchema.safeParse(t).success).toBe(true);
      const decoded = decodeVehicleTelemetry(JSON.stringify(t));
      expect(decoded.ok && decoded.rejections).toEqual([]);
      expect(spec.ev ? t.fuel_pct : t.battery_pct).toBeNull();
      expect(spec.ev ? t.battery_pct : t.fuel_pct).toBeTypeOf('number');
      expect(t.air !== undefined).toBe(spec.hasAir);
    }
  });
});
