import type { Metric } from '@citytel/contract';

/**
 * The daily CSV layout of the sensor.community archive (https://archive.sensor.community/YYYY-MM-DD/,
 * one file per sensor and day, e.g. `2026-02-22_sds011_sensor_88091.csv`), so that scripts written for
 * that archive read an airrohr kit's data here unchanged: `;`-separated, a header first, times
 * `YYYY-MM-DDTHH:MM:SS` in UTC, positions to 3 decimals, pressure in Pa, columns the archive leaves
 * empty left empty. The layouts by sensor family, as the archive's files have them:
 *
 *   PM (SDS011, PMS…, HPM, SPS30…): sensor_id;sensor_type;location;lat;lon;timestamp;P1;durP1;ratioP1;P2;durP2;ratioP2
 *   BME280:                        sensor_id;sensor_type;location;lat;lon;timestamp;pressure;altitude;pressure_sealevel;temperature;humidity
 *   BMP180/BMP280:                 sensor_id;sensor_type;location;lat;lon;timestamp;pressure;altitude;pressure_sealevel;temperature
 *   DHT22, SHT3x, HTU21D:          sensor_id;sensor_type;location;lat;lon;timestamp;temperature;humidity
 *
 * P1 is PM10 and P2 PM2.5 (the airrohr firmware's names). sensor_id and location are the device id here
 * (the archive numbers them; its scripts read them as given).
 */

export const ARCHIVE_SENSORS = [
  'SDS011',
  'SDS021',
  'PMS1003',
  'PMS3003',
  'PMS5003',
  'PMS6003',
  'PMS7003',
  'HPM',
  'SPS30',
  'BME280',
  'BMP180',
  'BMP280',
  'DHT22',
  'SHT31',
  'HTU21D',
] as const;
export type ArchiveSensor = (typeof ARCHIVE_SENSORS)[number];

const HEAD = ['sensor_id', 'sensor_type', 'location', 'lat', 'lon', 'timestamp'];

interface Layout {
  columns: string[];
  /** Per column after the head: the metric it holds and the factor to the archive's unit, or empty. */
  cells: Array<{ metric: Metric; factor?: number } | null>;
}

const PM: Layout = {
  columns: [...HEAD, 'P1', 'durP1', 'ratioP1', 'P2', 'durP2', 'ratioP2'],
  cells: [{ metric: 'pm10' }, null, null, { metric: 'pm25' }, null, null],
};
const PRESSURE_FULL: Layout = {
  columns: [...HEAD, 'pressure', 'altitude', 'pressure_sealevel', 'temperature', 'humidity'],
  cells: [{ metric: 'pressure', factor: 100 }, null, null, { metric: 'temperature' }, { metric: 'humidity' }],
};
const PRESSURE: Layout = {
  columns: [...HEAD, 'pressure', 'altitude', 'pressure_sealevel', 'temperature'],
  cells: [{ metric: 'pressure', factor: 100 }, null, null, { metric: 'temperature' }],
};
const CLIMATE: Layout = {
  columns: [...HEAD, 'temperature', 'humidity'],
  cells: [{ metric: 'temperature' }, { metric: 'humidity' }],
};

export function archiveLayout(sensor: ArchiveSensor): Layout {
  if (sensor === 'BME280') return PRESSURE_FULL;
  if (sensor === 'BMP180' || sensor === 'BMP280') return PRESSURE;
  if (sensor === 'DHT22' || sensor === 'SHT31' || sensor === 'HTU21D') return CLIMATE;
  return PM;
}

/** The metrics a layout reads. */
export const layoutMetrics = (l: Layout): Metric[] =>
  l.cells.filter((c): c is { metric: Metric } => c !== null).map((c) => c.metric);

/** One archive row; undefined when the reading has none of the layout's values. */
export function archiveRow(
  l: Layout,
  sensor: ArchiveSensor,
  device: string,
  t: number,
  lat: number,
  lon: number,
  value: (m: Metric) => number | null,
): string | undefined {
  let any = false;
  const cells = l.cells.map((c) => {
    if (!c) return '';
    const v = value(c.metric);
    if (v === null) return '';
    any = true;
    return (Math.round(v * (c.factor ?? 1) * 100) / 100).toFixed(2);
  });
  if (!any) return undefined;
  const ts = new Date(t).toISOString().slice(0, 19);
  return [device, sensor, device, lat.toFixed(3), lon.toFixed(3), ts, ...cells].join(';');
}
