import type { Metric, MetricValues } from './metrics.ts';

/**
 * Quality flags of a stored reading (CONTRACT §2): a bitmask in the integer field `qf`, written only when
 * some flag is set (a clean reading costs nothing), with the sensor error values themselves in the string
 * field `qerr` (`pm10=999.9;pm25=999.9`), never in a metric field: an error code is never served as a
 * measurement, and the raw message is still told in full.
 */
export const QUALITY_FIELD = 'qf';
export const QUALITY_ERROR_FIELD = 'qerr';

export const QUALITY_FLAGS = {
  /** A sensor's error value (SDS011 999.9...): moved out of its metric field into `qerr`. */
  sensor_error: 1,
  /** A metric has had the same value for `stuckReadings` readings in a row. */
  stuck: 2,
  /** Relative humidity above the range where humidity corrections of optical PM hold (see pm correction). */
  rh_high: 4,
  /** The device's time was implausible (too old, ahead, unset clock) and the broker's was used. */
  time_replaced: 8,
  /** A physical quantity with inertia changed faster than it can (temperature, humidity, pressure). */
  jump: 16,
} as const;
export type QualityFlag = keyof typeof QUALITY_FLAGS;
export const QUALITY_FLAG_NAMES = Object.keys(QUALITY_FLAGS) as QualityFlag[];

/** The names of the flags set in a mask, in table order. */
export const flagNames = (mask: number): QualityFlag[] =>
  QUALITY_FLAG_NAMES.filter((f) => (mask & QUALITY_FLAGS[f]) !== 0);

/**
 * Values PM sensors report when they fail or are saturated, never concentrations. SDS011/SDS021: PM2.5
 * 999.9 and PM10 1999.9 (or 999.9, the top of the datasheet's 0.0–999.9 µg/m³ range) when the fan has
 * failed or the inlet is blocked: opendata-stuttgart/sensors-software pull request #442 ("When the sensor
 * fan is failed, the readouts will be consistent 999 and 1999") and issue #899 (PM2.5 999.9, PM10 1999.9,
 * a dirty inlet). Plantower PMS5003/7003 and Sensirion SPS30 signal a failure by a bad checksum (the
 * firmware then sends nothing), so they have no value here.
 */
export const SENSOR_ERROR_VALUES: Readonly<Partial<Record<Metric, readonly number[]>>> = {
  pm10: [999.9, 1999.9],
  pm25: [999.9],
};

/**
 * Humidity above which optical PM corrections are not trusted: at 90 %RH and more the hygroscopic growth
 * factor of κ-Köhler theory rises steeply (1/(1 − RH/100) diverges; Crilley et al. 2018, AMT 11, 709,
 * fig. 5, fit to RH < 90 %) and fog droplets are counted as particles; the US EPA correction was fitted on
 * 24-h means with RH mostly below 90 % (Barkjohn et al. 2021, AMT 14, 4617).
 */
export const RH_HIGH = 90;

/**
 * Fastest plausible change per minute of quantities with inertia, at a kit in open air: beyond it the
 * change is a fault (a loose sensor, a reboot's first value), flagged `jump`. Generous bounds: a cold front
 * brings 10 °C in an hour, a storm 3 hPa per hour; a sensor in a sun-struck box can gain 2 °C a minute.
 */
export const MAX_RATE_PER_MIN: Readonly<Partial<Record<Metric, number>>> = {
  temperature: 5,
  humidity: 20,
  pressure: 3,
};

/**
 * Sensor error values of a reading moved out of `values` (mutated), returned as `qerr` text, or
 * undefined when there are none (the usual reading: a few compares).
 */
export function takeSensorErrors(values: MetricValues): string | undefined {
  // The usual reading: two compares each, before any walk.
  const p10 = values.pm10;
  const p25 = values.pm25;
  if ((p10 === undefined || p10 < 999.9) && (p25 === undefined || p25 < 999.9)) return undefined;
  let out: string | undefined;
  for (const m in SENSOR_ERROR_VALUES) {
    const v = values[m as Metric];
    if (v === undefined || !SENSOR_ERROR_VALUES[m as Metric]!.includes(v)) continue;
    out = out === undefined ? `${m}=${v}` : `${out};${m}=${v}`;
    delete values[m as Metric];
  }
  return out;
}
