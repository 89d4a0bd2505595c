import { encodeAirrohr, QUALITY_FLAGS, SENSOR_ERROR_VALUES, stamp, topics } from '@citytel/contract';
import { describe, expect, it } from 'vitest';
import { createPipeline, type PipelineDeps } from './pipeline.ts';
import { encodeReading, lineText, ReadingPoint, Series } from './points.ts';
import { cacheOf, device } from './testing.ts';

const RECEIVED = Date.UTC(2026, 10, 22, 10, 16, 0);
const HOUR = 3_600_000;
const registry = [
  device('kit-1', { lat: 48.1113, lon: -1.68 }),
  device('bike-1', { mobile: true }),
  device('air-1', { kind: 'airrohr', lat: 48.1113, lon: -1.68 }),
];

function pipelineOf(deps: Partial<PipelineDeps> = {}) {
  const pipeline = createPipeline({ devices: cacheOf(registry), ...deps });
  return async (topic: string, body: object, received = RECEIVED) => {
    const o = await pipeline.process({ topic, payload: stamp(Buffer.from(JSON.stringify(body)), received) });
    return { ...o, lines: o.lines.map(lineText) };
  };
}
const fieldsOf = (line: string) => line.split(' ')[1]!;
const timeOf = (line: string) => Number(line.split(' ')[2]!.slice(0, -6));

describe('device time bounds', () => {
  it('take a device time up to 7 days old, and replace an older one with the broker time, flagged', async () => {
    const run = pipelineOf();
    const sixDays = new Date(RECEIVED - 6 * 24 * HOUR).toISOString();
    const ok = await run(topics.sensorReadings('kit-1'), { ts: sixDays, pm25: 3 });
    expect(timeOf(ok.lines[0]!)).toBe(Date.parse(sixDays));
    expect(fieldsOf(ok.lines[0]!)).not.toContain('qf=');

    const eightDays = new Date(RECEIVED - 8 * 24 * HOUR).toISOString();
    const old = await run(topics.sensorReadings('kit-1'), { ts: eightDays, pm25: 4 });
    expect(timeOf(old.lines[0]!)).toBe(RECEIVED);
    expect(fieldsOf(old.lines[0]!)).toContain(`qf=${QUALITY_FLAGS.time_replaced}i,`);
    expect(old.lines[0]).toContain('tsrc="broker"');
    expect(old.fields).toEqual([
      {
        field: 'ts',
        reason: 'bad_time',
        detail: `device time ${eightDays} is older than 168 h before its receipt; receive time used`,
      },
    ]);
    expect(old.flagged).toBe(1);
  });

  it('take the age bound from the configuration; a time ahead by more than 5 minutes is replaced too', async () => {
    const run = pipelineOf({ maxDeviceAgeMs: HOUR });
    const twoHours = new Date(RECEIVED - 2 * HOUR).toISOString();
    const o = await run(topics.sensorReadings('bike-1'), { ts: twoHours, lat: 48.1, lon: -1.6, pm25: 4 });
    expect(timeOf(o.lines[0]!)).toBe(RECEIVED);
    expect(o.lines[0]).toContain(`qf=${QUALITY_FLAGS.time_replaced}i,`);
    const ahead = new Date(RECEIVED + 6 * 60_000).toISOString();
    const a = await run(topics.sensorReadings('kit-1'), { ts: ahead, pm25: 4 });
    expect(a.fields[0]!.detail).toContain('more than 5 min ahead');
    expect(a.lines[0]).toContain(`qf=${QUALITY_FLAGS.time_replaced}i,`);
  });

  it('a reading without a time is not flagged: the broker time is its time', async () => {
    const o = await pipelineOf()(topics.sensorReadings('kit-1'), { pm25: 4 });
    expect(o.lines[0]).not.toContain('qf=');
  });
});

describe('quality flags', () => {
  it('move an SDS011 error value (999.9, 1999.9) out of its metric field, flagged, the rest kept', async () => {
    const run = pipelineOf();
    const body = encodeAirrohr('esp8266-1', { pm10: 1999.9, pm25: 999.9, temperature: 11 });
    const o = await run(topics.sensorAirrohr('air-1'), body);
    const f = fieldsOf(o.lines[0]!);
    expect(f).not.toMatch(/^pm25=|^pm10=|,pm25=|,pm10=/);
    expect(f).toContain('temperature=11,');
    expect(f).toContain(`qf=${QUALITY_FLAGS.sensor_error}i,qerr="pm10=1999.9;pm25=999.9",`);
  });

  it('store PM corrected for humidity beside the measured, with the method, chosen by the sensor', async () => {
    const run = pipelineOf();
    // SDS011, κ-Köhler κ 0.4 at 80 %RH: C = 1 + (0.4/1.65)/0.25 = 1.969697; 20/C = 10.15, 30/C = 15.23.
    const sds = await run(
      topics.sensorAirrohr('air-1'),
      encodeAirrohr('esp8266-1', { pm10: 30, pm25: 20, humidity: 80 }),
    );
    expect(fieldsOf(sds.lines[0]!)).toContain(
      'pm25_c=10.15,pm10_c=15.23,pmc="kappa-kohler-crilley-2018@1-kappa0.4",',
    );
    // PMS5003, US EPA at 50 %RH: 0.524·20 − 0.0862·50 + 5.75 = 11.92; PM10 has no EPA correction.
    const pms = await run(topics.sensorAirrohr('air-1'), {
      sensordatavalues: [
        { value_type: 'PMS_P2', value: '20' },
        { value_type: 'PMS_P1', value: '30' },
        { value_type: 'BME280_humidity', value: '50' },
      ],
    });
    expect(fieldsOf(pms.lines[0]!)).toContain('pm25_c=11.92,pmc="epa-barkjohn-2021@1",');
    expect(fieldsOf(pms.lines[0]!)).toMatch(/^pm25=20,pm10=30,humidity=50,/);
    // No humidity: no corrected value, and the reading says why.
    const dry = await run(topics.sensorAirrohr('air-1'), encodeAirrohr('esp8266-1', { pm10: 30, pm25: 20 }));
    expect(fieldsOf(dry.lines[0]!)).toContain('pmc="none:no_humidity",');
    expect(fieldsOf(dry.lines[0]!)).not.toContain('_c=');
  });

  it('keep 999.8 as a concentration', async () => {
    const o = await pipelineOf()(topics.sensorReadings('kit-1'), { pm25: 999.8 });
    expect(fieldsOf(o.lines[0]!)).toMatch(/^pm25=999.8,lat/);
  });

  it('flag a metric stuck on one value for N readings in a row', async () => {
    const run = pipelineOf({ stuckReadings: 3 });
    const flags: string[] = [];
    for (let i = 0; i < 4; i++) {
      const o = await run(
        topics.sensorReadings('kit-1'),
        { pm25: 7, temperature: 10 + i },
        RECEIVED + i * 60_000,
      );
      flags.push(/qf=(\d+)i/.exec(o.lines[0]!)?.[1] ?? '0');
    }
    expect(flags).toEqual(['0', '0', String(QUALITY_FLAGS.stuck), String(QUALITY_FLAGS.stuck)]);
  });

  it('flag a temperature jump faster than 5 °C a minute, and humidity at 90 %RH or more', async () => {
    const run = pipelineOf();
    await run(topics.sensorReadings('kit-1'), { temperature: 10, humidity: 60 }, RECEIVED);
    const jump = await run(
      topics.sensorReadings('kit-1'),
      { temperature: 22, humidity: 61 },
      RECEIVED + 60_000,
    );
    expect(jump.lines[0]).toContain(`qf=${QUALITY_FLAGS.jump}i,`);
    // 12 °C over three hours is weather.
    const slow = await run(
      topics.sensorReadings('kit-1'),
      { temperature: 10, humidity: 62 },
      RECEIVED + 3 * HOUR,
    );
    expect(slow.lines[0]).not.toContain('qf=');
    const wet = await run(
      topics.sensorReadings('kit-1'),
      { temperature: 10.1, humidity: 95 },
      RECEIVED + 4 * HOUR,
    );
    expect(wet.lines[0]).toContain(`qf=${QUALITY_FLAGS.rh_high}i,`);
  });

  it('every sensor error value is at least 999.9 on pm10 or pm25 (the fast path of takeSensorErrors)', () => {
    expect(Object.keys(SENSOR_ERROR_VALUES).sort()).toEqual(['pm10', 'pm25']);
    expect(
      Object.values(SENSOR_ERROR_VALUES)
        .flat()
        .every((v) => v! >= 999.9),
    ).toBe(true);
  });

  it('a flagged point encodes to the same bytes as its text', () => {
    const series = new Series(
      'readings,device=kit-1,gh=gbwcu5,kind=native,loc=fixed',
      'lat=48.1113,lon=-1.68,',
    );
    const p = new ReadingPoint(series, { temperature: 11 }, 'broker', 1_795_860_900_123, 2, 9, 'pm25=999.9');
    const buf = Buffer.alloc(series.maxBytes);
    const end = encodeReading(p, buf, 0);
    expect(buf.toString('latin1', 0, end)).toBe(lineText(p));
    expect(lineText(p)).toBe(
      'readings,device=kit-1,gh=gbwcu5,kind=native,loc=fixed temperature=11,qf=9i,qerr="pm25=999.9",lat=48.1113,lon=-1.68,tsrc="broker" 1795860900123000002',
    );
  });
});
