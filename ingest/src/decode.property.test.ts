import {
  type DecodeResult,
  decodeSensorMessage,
  decodeVehicleTelemetry,
  encodeAirrohr,
  encodeSckJson,
  encodeSckRaw,
  METRIC_NAMES,
  METRICS,
  type MetricValues,
  REJECTION_REASONS,
  stamp,
  type TopicKind,
  topics,
} from '@citytel/contract';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Outcome } from './outcome.ts';
import { createPipeline } from './pipeline.ts';
import { encodeReading, lineText, type ReadingPoint } from './points.ts';
import { cacheOf, device } from './testing.ts';

const encoded = (p: ReadingPoint) => {
  const buf = Buffer.alloc(p.series.maxBytes);
  return buf.toString('latin1', 0, encodeReading(p, buf, 0));
};

/**
 * Every decoder, fed what the wire can carry: random bytes, valid messages truncated and mutated, huge
 * numbers, wrong types, deep nesting. None may throw; each payload is readings or a rejection with a reason.
 */
const REASONS = new Set<string>(REJECTION_REASONS);
const RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000);
const TIMEOUT = { timeout: 120_000 };

const metricValues: fc.Arbitrary<MetricValues> = fc
  .uniqueArray(fc.constantFrom(...METRIC_NAMES), { minLength: 1, maxLength: METRIC_NAMES.length })
  .chain((ms) =>
    fc
      .tuple(...ms.map((m) => fc.double({ min: METRICS[m].min, max: METRICS[m].max, noNaN: true })))
      .map((vs) => Object.fromEntries(ms.map((m, i) => [m, vs[i]]))),
  );
const when = fc.date({ min: new Date('2015-01-01'), max: new Date('2030-01-01'), noInvalidDate: true });
const position = fc.record({
  lat: fc.double({ min: -90, max: 90, noNaN: true }),
  lon: fc.double({ min: -180, max: 180, noNaN: true }),
});

const native = fc
  .tuple(metricValues, when, fc.option(position, { nil: undefined }))
  .map(([v, t, p]) => JSON.stringify({ ts: t.toISOString(), ...p, ...v }));
const nativeBatch = fc
  .array(fc.tuple(metricValues, when), { minLength: 1, maxLength: 8 })
  .map((rs) => JSON.stringify({ readings: rs.map(([v, t]) => ({ ts: t.toISOString(), ...v })) }));
const sckRaw = fc.tuple(when, metricValues).map(([t, v]) => encodeSckRaw(t, v));
const sckJson = fc.tuple(when, metricValues).map(([t, v]) => encodeSckJson(t, v));
const airrohr = fc
  .tuple(metricValues, fc.option(position, { nil: undefined }))
  .map(([v, p]) => JSON.stringify(encodeAirrohr('13463245', v, p)));
const vehicle = fc
  .tuple(
    when,
    position,
    fc.option(metricValues, { nil: undefined }),
    fc.double({ min: 0, max: 300, noNaN: true }),
  )
  .map(([t, p, air, speed]) =>
    JSON.stringify({
      ts: t.toISOString(),
      ...p,
      speed_kmh: speed,
      fuel_pct: 50,
      ignition: true,
      ...(air ? { air } : {}),
    }),
  );
const valid = fc.oneof(native, nativeBatch, sckRaw, sckJson, airrohr, vehicle);

/** Anything JSON can hold where a number is expected. */
const wrongValue = fc.oneof(
  fc.constantFrom(1e308, -1e308, 1e-320, Number.MAX_SAFE_INTEGER, -0, 0),
  fc.string({ maxLength: 20 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);
const KEYS = [
  ...METRIC_NAMES,
  'ts',
  'lat',
  'lon',
  'readings',
  'data',
  'sensordatavalues',
  'air',
  'sensors',
  'value',
  'id',
];

/** A valid message, or the same damaged in one of the ways the wire damages things. */
function damaged(validText: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const wrongTypes = fc
    .tuple(
      validText,
      fc.array(fc.tuple(fc.constantFrom(...KEYS), wrongValue), { minLength: 1, maxLength: 6 }),
    )
    .map(([text, edits]) =>
      edits.reduce(
        (out, [key, value]) =>
          out.replace(
            new RegExp(`"${key}":(-?[\\d.e+-]+|"[^"]*"|true|false|null)`),
            `"${key}":${JSON.stringify(value)}`,
          ),
        text,
      ),
    );
  const huge = fc
    .tuple(
      validText,
      fc.constantFrom('1e999', '-1e999', '9'.repeat(400), '1e-999', '123456789012345678901234567890'),
    )
    .map(([text, n]) => text.replace(/(?<=[:,])\d+(\.\d+)?/g, n));
  const truncated = fc
    .tuple(validText, fc.nat())
    .map(([text, cut]) => text.slice(0, cut % (text.length + 1)));
  const mutated = fc
    .tuple(
      validText,
      fc.array(fc.tuple(fc.nat(), fc.string({ maxLength: 3, unit: 'binary' })), {
        minLength: 1,
        maxLength: 8,
      }),
    )
    .map(([text, edits]) =>
      edits.reduce((t, [at, s]) => {
        const i = at % (t.length + 1);
        return t.slice(0, i) + s + t.slice(i + (at % 2));
      }, text),
    );
  const deep = fc
    .tuple(
      fc.integer({ min: 1, max: 5000 }),
      fc.constantFrom('[', '{"a":', '{"readings":[', '{"data":[{"sensors":['),
    )
    .map(([n, open]) => open.repeat(n));
  return fc.oneof(
    { arbitrary: validText, weight: 3 },
    { arbitrary: wrongTypes, weight: 2 },
    { arbitrary: huge, weight: 1 },
    { arbitrary: truncated, weight: 2 },
    { arbitrary: mutated, weight: 2 },
    { arbitrary: deep, weight: 1 },
    { arbitrary: fc.string({ maxLength: 300, unit: 'binary' }), weight: 1 },
  );
}

const asBytes = (t: fc.Arbitrary<string>): fc.Arbitrary<Buffer> =>
  fc.oneof(
    { arbitrary: t.map((s) => Buffer.from(s)), weight: 5 },
    { arbitrary: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)), weight: 1 },
  );
const text = damaged(valid);
const bytes = asBytes(text);

function checkDecodeResult(r: DecodeResult) {
  for (const f of r.rejections) expect(REASONS.has(f.reason)).toBe(true);
  if (r.error) {
    expect(REASONS.has(r.error.reason)).toBe(true);
    expect(r.readings).toEqual([]);
    return;
  }
  expect(r.readings.length).toBeGreaterThan(0);
  for (const reading of r.readings) {
    const entries = Object.entries(reading.values);
    expect(entries.length).toBeGreaterThan(0);
    for (const [m, v] of entries) {
      const range = METRICS[m as keyof typeof METRICS];
      expect(Number.isFinite(v) && v >= range.min && v <= range.max).toBe(true);
    }
  }
}

const SENSOR_KINDS: TopicKind[] = ['native', 'airrohr', 'sck-raw', 'sck-json'];

describe('the contract decoders', () => {
  for (const kind of SENSOR_KINDS) {
    it(`${kind} turns any bytes into readings or a rejection with a reason`, TIMEOUT, () => {
      fc.assert(
        fc.property(bytes, (payload) => checkDecodeResult(decodeSensorMessage(kind, payload))),
        { numRuns: RUNS },
      );
    });
  }

  it('vehicle telemetry turns any text into a vehicle or a rejection with a reason', TIMEOUT, () => {
    fc.assert(
      fc.property(text, (payload) => {
        const r = decodeVehicleTelemetry(payload);
        for (const f of r.rejections) expect(REASONS.has(f.reason)).toBe(true);
        if (!r.ok) expect(REASONS.has(r.reason)).toBe(true);
        else if (r.vehicle.air) checkDecodeResult({ readings: [r.vehicle.air], rejections: [] });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('the ingest pipeline', () => {
  const registry = [
    device('kit-1', { lat: 48.11, lon: -1.68 }),
    device('bike-1', { mobile: true }),
    { ...device('sck-1', { kind: 'sck', lat: 48.11, lon: -1.68 }), token: 'ab12cd' },
    device('car-1', { kind: 'vehicle' }),
  ];
  const pipeline = createPipeline({ devices: cacheOf(registry) });
  const sckInfo = fc.constant(JSON.stringify({ hw_ver: '2.1', sam_ver: '0.9.8', esp_ver: '0.9.8' }));
  const status = fc.record({ online: fc.boolean(), locked: fc.boolean() }).map((o) => JSON.stringify(o));
  /** Each topic with the format it carries, so most messages get past the decoder before being damaged. */
  const message = fc
    .oneof(
      fc.tuple(
        fc.constantFrom(topics.sensorReadings('kit-1'), topics.sensorReadings('bike-1')),
        fc.oneof(native, nativeBatch),
      ),
      fc.tuple(fc.constant(topics.sensorAirrohr('kit-1')), airrohr),
      fc.tuple(fc.constant(topics.sckRaw('ab12cd')), sckRaw),
      fc.tuple(fc.constant(topics.sckJson('ab12cd')), sckJson),
      fc.tuple(fc.constant(topics.sckHello('ab12cd')), fc.constant('ab12cd:Hello')),
      fc.tuple(fc.constant(topics.sckInfo('ab12cd')), sckInfo),
      fc.tuple(fc.constant(topics.vehicleTelemetry('car-1')), vehicle),
      fc.tuple(fc.constant(topics.vehicleStatus('car-1')), status),
      fc.tuple(
        fc.constantFrom(topics.sensorReadings('ghost'), 'sensors/kit-1/unknown', topics.sckRaw('zz99zz')),
        valid,
      ),
    )
    .chain(([t, body]) => fc.tuple(fc.constant(t), asBytes(damaged(fc.constant(body)))));
  const LINE =
    /^(readings,device=[\w-]+,gh=[0-9b-hjkmnp-z]{6},kind=\w+,loc=\w+|vehicles(,gh=[0-9b-hjkmnp-z]{6})?,vehicle=[\w-]+) (\w+=(-?[\d.e+-]+|true|false|\d+i|"[\w.=;:@-]*"),)*tsrc="\w+" \d{19}$/;

  it('answers every message with points or a counted rejection, never throwing', TIMEOUT, async () => {
    const seen = { points: 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(message, fc.boolean(), fc.boolean(), async ([t, payload], stamped, retain) => {
        const o: Outcome = await pipeline.process({
          topic: t,
          payload: stamped ? stamp(payload, Date.now()) : payload,
          retain,
        });
        for (const f of o.fields) expect(REASONS.has(f.reason)).toBe(true);
        if (o.rejected) {
          expect(REASONS.has(o.rejected.reason)).toBe(true);
          expect(o.lines).toEqual([]);
        } else if (o.lines.length === 0) {
          // Only what stores no reading: SCK hello / info, and a retained status replay.
          expect(['sck-hello', 'sck-info', 'vehicle-status']).toContain(o.kind);
        }
        for (const line of o.lines) {
          expect(lineText(line)).toMatch(LINE);
          // A point the writer encodes itself is the same bytes as its text.
          if (typeof line !== 'string') expect(encoded(line)).toBe(lineText(line));
        }
        expect(o.readings).toBe(o.lines.length);
        if (o.lines.length) seen.points++;
        if (o.rejected) seen.rejected++;
      }),
      { numRuns: RUNS },
    );
    // Not vacuous: the generators reach both ends.
    expect(seen.points).toBeGreaterThan(RUNS / 10);
    expect(seen.rejected).toBeGreaterThan(RUNS / 10);
  });
});
