import { describe, expect, it } from 'vitest';
import { decodeAirrohr, encodeAirrohr } from './airrohr.ts';

const example = {
  esp8266id: '13463245',
  software_version: 'NRZ-2024-135',
  sensordatavalues: [
    { value_type: 'SDS_P1', value: '14.00' },
    { value_type: 'SDS_P2', value: '8.20' },
    { value_type: 'BME280_temperature', value: '11.20' },
    { value_type: 'BME280_humidity', value: '71.0' },
    { value_type: 'DNMS_noise_LAeq', value: '58.4' },
    { value_type: 'signal', value: '-70' },
  ],
};

describe('airrohr (sensor.community)', () => {
  it('decodes the contract example: string values, no time', () => {
    const r = decodeAirrohr(JSON.stringify(example));
    expect(r.rejections).toEqual([]);
    expect(r.readings).toEqual([
      { values: { pm10: 14, pm25: 8.2, temperature: 11.2, humidity: 71, noise_laeq: 58.4 }, pmSensor: 'SDS' },
    ]);
  });

  it('maps PMS, SPS30 and other PM prefixes, and BME280 pressure Pa → hPa', () => {
    const r = decodeAirrohr(
      JSON.stringify({
        sensordatavalues: [
          { value_type: 'PMS_P0', value: '3' },
          { value_type: 'SPS30_P2', value: '5' },
          { value_type: 'SPS30_P1', value: '9' },
          { value_type: 'BME280_pressure', value: '101230.00' },
          { value_type: 'noise_LAeq', value: '44.1' },
          { value_type: 'temperature', value: '2.5' },
        ],
      }),
    );
    expect(r.readings[0]?.values).toEqual({
      pm1: 3,
      pm25: 5,
      pm10: 9,
      pressure: 1012.3,
      noise_laeq: 44.1,
      temperature: 2.5,
    });
  });

  it('takes GPS_lat / GPS_lon as the position of a mobile box', () => {
    const r = decodeAirrohr(
      JSON.stringify({
        sensordatavalues: [
          { value_type: 'SDS_P2', value: '5' },
          { value_type: 'GPS_lat', value: '48.110000' },
          { value_type: 'GPS_lon', value: '-1.680000' },
        ],
      }),
    );
    expect(r.readings[0]?.position).toEqual({ lat: 48.11, lon: -1.68 });
  });

  it('skips unknown value types and drops bad values with their reason', () => {
    const r = decodeAirrohr(
      JSON.stringify({
        sensordatavalues: [
          { value_type: 'samples', value: '880000' },
          { value_type: 'SDS_P2', value: 'nan' },
          { value_type: 'SDS_P1', value: '-2' },
          { value_type: 'BME280_humidity', value: '50' },
        ],
      }),
    );
    expect(r.readings[0]?.values).toEqual({ humidity: 50 });
    expect(r.rejections.map((x) => [x.field, x.reason])).toEqual([
      ['SDS_P2', 'wrong_type'],
      ['SDS_P1', 'out_of_range'],
    ]);
  });

  it('rejects bodies without sensordatavalues', () => {
    expect(decodeAirrohr('{"esp8266id":"1"}').error?.reason).toBe('schema');
    expect(decodeAirrohr('{"sensordatavalues":[{"value_type":"signal","value":"-70"}]}').error?.reason).toBe(
      'no_valid_values',
    );
  });

  it('round-trips what the simulator encodes (pressure sent in Pa)', () => {
    const body = encodeAirrohr('42', { pm25: 8.2, pressure: 1012.3 });
    expect(body.sensordatavalues.every((v) => typeof v.value === 'string')).toBe(true);
    expect(decodeAirrohr(JSON.stringify(body)).readings[0]?.values).toEqual({ pm25: 8.2, pressure: 1012.3 });
  });
});
