import { describe, expect, it } from 'vitest';
import { SCK_SENSORS } from '../sck-sensors.ts';
import { decodeSckJson, decodeSckRaw, encodeSckJson, encodeSckRaw } from './sck.ts';

describe('Smart Citizen raw format', () => {
  it('decodes the firmware example, pressure kPa → hPa', () => {
    const r = decodeSckRaw('{t:2026-11-22T10:15:00Z,87:8.2,88:14.0,53:58.4,55:11.2,56:71.0,58:101.23}');
    expect(r.rejections).toEqual([]);
    expect(r.readings).toHaveLength(1);
    expect(r.readings[0]?.ts).toEqual(new Date('2026-11-22T10:15:00Z'));
    const v = r.readings[0]!.values;
    expect(v).toMatchObject({ pm25: 8.2, pm10: 14, noise_laeq: 58.4, temperature: 11.2, humidity: 71 });
    expect(v.pressure).toBeCloseTo(1012.3, 9);
  });

  it('accepts spaces, t anywhere and :null values', () => {
    const r = decodeSckRaw('{ 87: 8.2 , t: 2026-11-22T10:15:00Z , 53:null, 88 :14 }');
    expect(r.readings[0]).toEqual({ ts: new Date('2026-11-22T10:15:00Z'), values: { pm25: 8.2, pm10: 14 } });
  });

  it('counts and skips an unknown sensor id', () => {
    const r = decodeSckRaw('{t:2026-11-22T10:15:00Z,87:8.2,999:1}');
    expect(r.readings[0]?.values).toEqual({ pm25: 8.2 });
    expect(r.rejections).toEqual([expect.objectContaining({ field: '999', reason: 'unknown_sensor' })]);
  });

  it('maps every sensor id of the table', () => {
    for (const [id, s] of Object.entries(SCK_SENSORS)) {
      const value = s.metric === 'pressure' ? 101 : s.metric === 'noise_laeq' ? 50 : 20;
      const r = decodeSckRaw(`{${id}:${value}}`);
      expect(r.readings[0]?.values[s.metric], `id ${id}`).toBe(value * (s.factor ?? 1));
    }
  });

  it('drops out-of-range fields and keeps the rest', () => {
    const r = decodeSckRaw('{t:2026-11-22T10:15:00Z,87:-3,56:120,53:10,55:11}');
    expect(r.readings[0]?.values).toEqual({ temperature: 11 });
    expect(r.rejections.map((x) => [x.field, x.reason])).toEqual([
      ['87', 'out_of_range'],
      ['56', 'out_of_range'],
      ['53', 'out_of_range'],
    ]);
  });

  it('rejects garbage', () => {
    expect(decodeSckRaw('hello').error?.reason).toBe('malformed');
    expect(decodeSckRaw('{}').error?.reason).toBe('no_valid_values');
    expect(decodeSckRaw('{t:2026-11-22T10:15:00Z}').error?.reason).toBe('no_valid_values');
    expect(decodeSckRaw('{abc:3,87:x}').error?.reason).toBe('no_valid_values');
  });

  it('round-trips what the simulator encodes', () => {
    const ts = new Date('2026-11-22T10:15:00Z');
    const r = decodeSckRaw(encodeSckRaw(ts, { pm25: 8.2, pressure: 1012.3, noise_laeq: 58.4 }));
    expect(r.readings[0]).toEqual({ ts, values: { pm25: 8.2, pressure: 1012.3, noise_laeq: 58.4 } });
  });
});

describe('Smart Citizen JSON format', () => {
  it('decodes the documented example', () => {
    const r = decodeSckJson(
      '{"data":[{"recorded_at":"2026-11-22T10:15:00Z","sensors":[{"id":87,"value":8.2},{"id":88,"value":14.0},{"id":53,"value":58.4}]}]}',
    );
    expect(r.readings).toEqual([
      { ts: new Date('2026-11-22T10:15:00Z'), values: { pm25: 8.2, pm10: 14, noise_laeq: 58.4 } },
    ]);
  });

  it('decodes several entries, skipping an entry with nothing valid', () => {
    const r = decodeSckJson(
      JSON.stringify({
        data: [
          { recorded_at: '2026-11-22T10:15:00Z', sensors: [{ id: 87, value: 8 }] },
          { recorded_at: '2026-11-22T10:16:00Z', sensors: [{ id: 87, value: -8 }] },
          { recorded_at: '2026-11-22T10:17:00Z', sensors: [{ id: 87, value: 9 }] },
        ],
      }),
    );
    expect(r.readings.map((x) => x.values.pm25)).toEqual([8, 9]);
    expect(r.rejections[0]).toMatchObject({ field: 'data[1].sensors[0]', reason: 'out_of_range' });
  });

  it('rejects wrong shapes', () => {
    expect(decodeSckJson('{"data":1}').error?.reason).toBe('schema');
    expect(decodeSckJson('{').error?.reason).toBe('not_json');
    expect(decodeSckJson('{"data":[{"sensors":[{"id":"87","value":1}]}]}').error?.reason).toBe(
      'no_valid_values',
    );
  });

  it('round-trips what the simulator encodes', () => {
    const ts = new Date('2026-11-22T10:15:00Z');
    const r = decodeSckJson(encodeSckJson(ts, { pm10: 14, humidity: 71 }));
    expect(r.readings[0]).toEqual({ ts, values: { pm10: 14, humidity: 71 } });
  });
});
