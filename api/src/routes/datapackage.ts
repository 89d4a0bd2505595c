import { METRIC_NAMES, METRICS, type Metric, QUALITY_FLAG_NAMES } from '@citytel/contract';

export const DATAPACKAGE_PATH = '/api/v1/export/datapackage.json';

/** The CSV's columns: raw rows add the time source, the quality flags and the sensor error values. */
export const csvColumns = (metrics: readonly Metric[], raw: boolean): string[] => [
  'time',
  'device',
  'kind',
  'loc',
  'lat',
  'lon',
  ...metrics,
  ...(raw ? ['tsrc', 'flags', 'sensor_error', 'pm25_corrected', 'pm10_corrected', 'pm_correction'] : []),
];

/**
 * The Frictionless Tabular Data Package describing the CSV export (https://specs.frictionlessdata.io/
 * tabular-data-package/, profile `tabular-data-package`, Table Schema field types): what a `# license:`
 * line inside the CSV used to say — licence, source, units — where tools look for it, so that the CSV
 * itself is only its header and rows. `frictionless validate`, R's `frictionless` and pandas read it.
 */
export function dataPackage(
  license: string,
  baseUrl: string,
): { profile: 'tabular-data-package'; [k: string]: unknown } {
  const fields = csvColumns(METRIC_NAMES, true).map((name) => {
    const metric = METRICS[name as keyof typeof METRICS];
    if (metric) {
      return {
        name,
        type: 'number',
        title: metric.label,
        description: `${metric.label} in ${metric.unit}${name === 'noise_laeq' ? ' (A-weighted equivalent level; bucket means on the energy scale)' : ''}`,
        unit: metric.unit,
      };
    }
    return COLUMN_FIELDS[name] ?? { name, type: 'string' };
  });
  return {
    profile: 'tabular-data-package' as const,
    name: 'citytel-readings',
    title: 'citytel: citizen air-quality and noise readings',
    description:
      'Readings of citizen sensor kits and the air sensors of carsharing cars. One row per reading; a ' +
      'reading has the metrics it measured. Sensor error values (e.g. SDS011 999.9) are never in a metric ' +
      'column: they are in sensor_error, with the flag sensor_error.',
    licenses: [{ name: license, path: `https://spdx.org/licenses/${license}.html`, title: license }],
    sources: [{ title: 'citytel open data', path: `${baseUrl}/docs` }],
    resources: [
      {
        profile: 'tabular-data-resource',
        name: 'readings',
        path: `${baseUrl}/api/v1/export?format=csv`,
        format: 'csv',
        mediatype: 'text/csv',
        encoding: 'utf-8',
        dialect: { delimiter: ',', doubleQuote: true, quoteChar: '"', header: true, lineTerminator: '\n' },
        schema: { fields, missingValues: [''] },
      },
    ],
  };
}

const flagList = QUALITY_FLAG_NAMES.join(', ');

const COLUMN_FIELDS: Record<string, object> = {
  time: { name: 'time', type: 'datetime', format: 'default', description: 'time of the reading, UTC' },
  device: { name: 'device', type: 'string', description: 'device id', constraints: { required: true } },
  kind: { name: 'kind', type: 'string', description: 'native, sck, airrohr or vehicle' },
  loc: {
    name: 'loc',
    type: 'string',
    description: 'fixed, mobile or indoor (indoor kits are placed at the centre of their geohash-7 cell)',
    constraints: { enum: ['fixed', 'mobile', 'indoor'] },
  },
  lat: { name: 'lat', type: 'number', description: 'latitude, WGS 84 (degrees)', unit: '°' },
  lon: { name: 'lon', type: 'number', description: 'longitude, WGS 84 (degrees)', unit: '°' },
  tsrc: {
    name: 'tsrc',
    type: 'string',
    description: "whose clock gave the time: device, broker (the device's was absent or implausible), ingest",
  },
  flags: {
    name: 'flags',
    type: 'string',
    description: `quality flags of the reading, ';'-separated, among: ${flagList}`,
  },
  pm25_corrected: {
    name: 'pm25_corrected',
    type: 'number',
    unit: 'µg/m³',
    description: 'PM2.5 corrected for humidity by the method in pm_correction (the measured value is pm25)',
  },
  pm10_corrected: {
    name: 'pm10_corrected',
    type: 'number',
    unit: 'µg/m³',
    description: 'PM10 corrected for humidity by the method in pm_correction (the measured value is pm10)',
  },
  pm_correction: {
    name: 'pm_correction',
    type: 'string',
    description:
      'method@version of the PM humidity correction (epa-barkjohn-2021: Barkjohn et al. 2021, AMT 14, 4617; ' +
      'kappa-kohler-crilley-2018: Crilley et al. 2018, AMT 11, 709), or none:reason (no_humidity...)',
  },
  sensor_error: {
    name: 'sensor_error',
    type: 'string',
    description: "a sensor's error values, metric=value;… (never concentrations)",
  },
};
