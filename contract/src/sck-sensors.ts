import type { Metric } from './metrics.ts';

/**
 * Smart Citizen sensor ids → metric, with the factor that converts the kit's unit to ours.
 * Source: the Smart Citizen platform's sensor list (api.smartcitizen.me/v0/sensors) and the kit
 * firmware's sensor table (fablabbcn/smartcitizen-kit-2x, sckBase/Sensors.h). Pressure is sent in kPa.
 */
export const SCK_SENSORS: Readonly<Record<number, { metric: Metric; factor?: number; board: string }>> = {
  89: { metric: 'pm1', board: 'PMS5003' },
  87: { metric: 'pm25', board: 'PMS5003' },
  88: { metric: 'pm10', board: 'PMS5003' },
  182: { metric: 'pm1', board: 'SPS30' },
  183: { metric: 'pm25', board: 'SPS30' },
  185: { metric: 'pm10', board: 'SPS30' },
  193: { metric: 'pm1', board: 'SEN5X' },
  194: { metric: 'pm25', board: 'SEN5X' },
  196: { metric: 'pm10', board: 'SEN5X' },
  53: { metric: 'noise_laeq', board: 'ICS43432' },
  55: { metric: 'temperature', board: 'SHT31' },
  56: { metric: 'humidity', board: 'SHT31' },
  58: { metric: 'pressure', factor: 10, board: 'MPL3115A2' },
  227: { metric: 'pressure', factor: 10, board: 'BMP388' },
  14: { metric: 'light', board: 'BH1730FVC' },
  112: { metric: 'eco2', board: 'CCS811' },
  113: { metric: 'tvoc', board: 'CCS811' },
  158: { metric: 'co2', board: 'SCD30' },
  10: { metric: 'battery', board: 'SCK battery' },
};

/** The id the simulator and tests use to speak SCK for a metric (first board listed wins). */
export const SCK_ID_FOR_METRIC: Readonly<Partial<Record<Metric, number>>> = Object.fromEntries(
  Object.entries(SCK_SENSORS)
    .reverse()
    .map(([id, s]) => [s.metric, Number(id)]),
);
