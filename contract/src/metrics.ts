/**
 * Metric names, stored units and plausible ranges (CONTRACT §2). A value outside its range is rejected
 * for that field only, with the reason, and the rest of the reading is kept.
 */
export const METRICS = {
  pm1: { unit: 'µg/m³', min: 0, max: 2000, label: 'PM1' },
  pm25: { unit: 'µg/m³', min: 0, max: 2000, label: 'PM2.5' },
  pm10: { unit: 'µg/m³', min: 0, max: 2000, label: 'PM10' },
  no2: { unit: 'µg/m³', min: 0, max: 2000, label: 'NO₂' },
  o3: { unit: 'µg/m³', min: 0, max: 2000, label: 'O₃' },
  co: { unit: 'mg/m³', min: 0, max: 200, label: 'CO' },
  // Below 20 dB(A) no kit microphone measures; above 140 dB(A) is a jet engine at 30 m (CONTRACT §2).
  noise_laeq: { unit: 'dB(A)', min: 20, max: 140, label: 'Noise' },
  // BME280 / SHT3x operating range.
  temperature: { unit: '°C', min: -40, max: 85, label: 'Temperature' },
  humidity: { unit: '%RH', min: 0, max: 100, label: 'Humidity' },
  pressure: { unit: 'hPa', min: 300, max: 1100, label: 'Pressure' },
  light: { unit: 'lux', min: 0, max: 200000, label: 'Light' },
  eco2: { unit: 'ppm', min: 0, max: 60000, label: 'eCO₂' },
  tvoc: { unit: 'ppb', min: 0, max: 60000, label: 'TVOC' },
  co2: { unit: 'ppm', min: 0, max: 40000, label: 'CO₂' },
  battery: { unit: '%', min: 0, max: 100, label: 'Battery' },
} as const;

export type Metric = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as Metric[];
export const isMetric = (s: string): s is Metric => Object.hasOwn(METRICS, s);

/** Metrics the city map colours by an index band (2.5). */
export const AIR_INDEX_METRICS = ['pm25', 'pm10', 'no2', 'o3'] as const;

export type MetricValues = Partial<Record<Metric, number>>;
