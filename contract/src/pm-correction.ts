/**
 * Humidity corrections of optical PM (CONTRACT §2): a corrected value is served beside the measured one,
 * never in its place, with the method and its version named. Optical sensors count particles that have
 * taken up water in humid air as if dry, so they read high; each published correction fits one sensor
 * family. No humidity reported, no corrected value (`correctPm` says why).
 */

export type PmSensorFamily = 'plantower' | 'nova';

export interface PmCorrectionMethod {
  id: string;
  /** Bumped with any change of formula or coefficients: stored beside each corrected value. */
  version: string;
  family: PmSensorFamily;
  source: string;
}

/**
 * US EPA nationwide correction for Plantower PMS5003 sensors (PurpleAir), Barkjohn, Gantt and Clements
 * (2021), "Development and application of a United States-wide correction for PM2.5 data collected with the
 * PurpleAir sensor", Atmos. Meas. Tech. 14, 4617–4637, doi:10.5194/amt-14-4617-2021:
 *
 *   PM2.5 = 0.524 × PM2.5(cf_1) − 0.0862 × RH + 5.75      (µg/m³, RH in %)
 *
 * fitted on 24-hour means; for PM2.5 only. Not below 0.
 */
export const EPA_PMS5003: PmCorrectionMethod = {
  id: 'epa-barkjohn-2021',
  version: '1',
  family: 'plantower',
  source: 'Barkjohn et al. (2021), AMT 14, 4617, doi:10.5194/amt-14-4617-2021',
};

export function epaPms5003(pm25: number, rh: number): number {
  return Math.max(0, 0.524 * pm25 - 0.0862 * rh + 5.75);
}

/**
 * κ-Köhler hygroscopic growth for Nova Fitness SDS011 (and other optical counters without their own
 * correction), Crilley et al. (2018), "Evaluation of a low-cost optical particle counter (Alphasense
 * OPC-N2) for ambient air monitoring", Atmos. Meas. Tech. 11, 709–720, doi:10.5194/amt-11-709-2018, eq. (2):
 *
 *   C = 1 + (κ / 1.65) / (−1 + 1/a_w),   a_w = RH / 100,   PM_dry = PM_measured / C
 *
 * where 1.65 g/cm³ is the assumed dry particle density and κ the bulk hygroscopicity. κ = 0.4 here: a
 * mid value of continental urban aerosol (Petters and Kreidenweis 2007, ACP 7, 1961: ~0.1 organic to ~0.6
 * ammonium sulfate/nitrate); it is part of the method's version. Applied to PM2.5 and PM10.
 */
export const KAPPA_KOHLER_SDS011: PmCorrectionMethod = {
  id: 'kappa-kohler-crilley-2018',
  version: '1-kappa0.4',
  family: 'nova',
  source: 'Crilley et al. (2018), AMT 11, 709, doi:10.5194/amt-11-709-2018, eq. 2',
};
export const KAPPA = 0.4;

export function kappaKohlerFactor(rh: number, kappa = KAPPA): number {
  const aw = rh / 100;
  return 1 + kappa / 1.65 / (-1 + 1 / aw);
}

export const kappaKohler = (pm: number, rh: number, kappa = KAPPA): number =>
  pm / kappaKohlerFactor(rh, kappa);

/** The PM sensor family of a sensor model as kits name it (airrohr value_type prefix, SCK board). */
export function pmFamilyOf(model: string): PmSensorFamily | undefined {
  const m = model.toUpperCase();
  if (m.startsWith('PMS')) return 'plantower';
  if (m.startsWith('SDS')) return 'nova';
  return undefined;
}

export type PmCorrection =
  | { value: number; method: PmCorrectionMethod }
  | {
      value: null;
      reason: 'no_humidity' | 'unknown_sensor' | 'humidity_out_of_range' | 'not_corrected_metric';
    };

/**
 * The corrected value of a PM reading, or why there is none: no humidity reported, a sensor whose family
 * has no method, humidity at or above 100 % (κ-Köhler diverges) or not above 0, a metric the method does
 * not cover. Above RH_HIGH the value is still given, and the reading is flagged `rh_high` (quality.ts).
 */
export function correctPm(
  metric: 'pm1' | 'pm25' | 'pm10',
  value: number,
  rh: number | undefined,
  family: PmSensorFamily | undefined,
): PmCorrection {
  if (rh === undefined) return { value: null, reason: 'no_humidity' };
  if (family === undefined) return { value: null, reason: 'unknown_sensor' };
  if (!(rh > 0 && rh < 100)) return { value: null, reason: 'humidity_out_of_range' };
  if (family === 'plantower') {
    if (metric !== 'pm25') return { value: null, reason: 'not_corrected_metric' };
    return { value: epaPms5003(value, rh), method: EPA_PMS5003 };
  }
  if (metric === 'pm1') return { value: null, reason: 'not_corrected_metric' };
  return { value: kappaKohler(value, rh), method: KAPPA_KOHLER_SDS011 };
}

/** Stored fields of a corrected PM reading (CONTRACT §2): `{metric}_c`, and `pmc` naming the method or why none. */
export const correctedField = (metric: 'pm25' | 'pm10'): string => `${metric}_c`;
export const PM_CORRECTION_FIELD = 'pmc';

/**
 * The line-protocol fields of a reading's PM correction (`pm25_c=…,pm10_c=…,pmc="id@version",` or
 * `pmc="none:reason",`), or undefined for a reading without PM or from a sensor whose family the payload
 * does not name (native and Smart Citizen payloads do not: nothing is written for them, and no `pmc` reads
 * as "sensor unknown"). Corrected values to 2 decimals.
 */
export function pmCorrectionFields(
  values: { pm25?: number; pm10?: number; humidity?: number },
  pmSensor: string | undefined,
): string | undefined {
  const { pm25, pm10, humidity } = values;
  if (pm25 === undefined && pm10 === undefined) return undefined;
  const family = pmSensor === undefined ? undefined : pmFamilyOf(pmSensor);
  if (family === undefined) return undefined;
  let out = '';
  let method: PmCorrectionMethod | undefined;
  let why: string | undefined;
  for (const [m, v] of [
    ['pm25', pm25],
    ['pm10', pm10],
  ] as const) {
    if (v === undefined) continue;
    const c = correctPm(m, v, humidity, family);
    if (c.value === null) why ??= c.reason;
    else {
      out += `${correctedField(m)}=${Math.round(c.value * 100) / 100},`;
      method = c.method;
    }
  }
  return method
    ? `${out}${PM_CORRECTION_FIELD}="${method.id}@${method.version}",`
    : `${PM_CORRECTION_FIELD}="none:${why}",`;
}
