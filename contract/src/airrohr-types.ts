import type { Metric } from './metrics.ts';

/**
 * sensor.community (airrohr) value types → metric. Source: the airrohr firmware
 * (opendata-stuttgart/sensors-software, airrohr-firmware/airrohr-firmware.ino and ext_def.h):
 * PM sensors report `_P0` PM1, `_P1` PM10, `_P2` PM2.5; BMP/BMP280/BME280 report pressure in Pa.
 */
const PM_PREFIXES = ['SDS', 'PMS', 'HPM', 'NPM', 'SPS30', 'IPS', 'SEN5X'];
const PM_SUFFIX: Record<string, Metric> = { P0: 'pm1', P1: 'pm10', P2: 'pm25' };
const PA_PRESSURE = ['BMP', 'BMP280', 'BME280'];

export type AirrohrField = { metric: Metric; factor?: number } | { position: 'lat' | 'lon' };

export function airrohrField(valueType: string): AirrohrField | undefined {
  if (valueType === 'GPS_lat') return { position: 'lat' };
  if (valueType === 'GPS_lon') return { position: 'lon' };
  if (valueType === 'DNMS_noise_LAeq' || valueType === 'noise_LAeq') return { metric: 'noise_laeq' };
  const cut = valueType.lastIndexOf('_');
  const prefix = cut < 0 ? '' : valueType.slice(0, cut);
  const suffix = cut < 0 ? valueType : valueType.slice(cut + 1);
  if (PM_PREFIXES.includes(prefix) && PM_SUFFIX[suffix]) return { metric: PM_SUFFIX[suffix]! };
  // DHT22 sends bare `temperature` / `humidity`; SHT3X, HTU21D, BME280... prefix them.
  if (suffix === 'temperature') return { metric: 'temperature' };
  if (suffix === 'humidity') return { metric: 'humidity' };
  if (suffix === 'pressure') return { metric: 'pressure', factor: PA_PRESSURE.includes(prefix) ? 0.01 : 1 };
  return undefined;
}

/** Value types the stock firmware sends for a metric, for the simulator and tests. */
export const AIRROHR_TYPE_FOR_METRIC: Readonly<Partial<Record<Metric, string>>> = {
  pm10: 'SDS_P1',
  pm25: 'SDS_P2',
  temperature: 'BME280_temperature',
  humidity: 'BME280_humidity',
  pressure: 'BME280_pressure',
  noise_laeq: 'DNMS_noise_LAeq',
};
