import type { Metric } from './metrics.ts';

export interface Band {
  level: number;
  label: string;
  color: string;
}

export interface BandScale {
  metric: Metric;
  kind: 'eaqi' | 'noise';
  /** Upper bounds of each band but the last, in the metric's unit. */
  bounds: readonly number[];
  labels: readonly string[];
  colors: readonly string[];
  source: string;
  /** Whether a value equal to a bound falls in the lower band (EAQI) or the upper (noise classes). */
  upperInclusive: boolean;
}

/**
 * European Air Quality Index, 2024 revision (European Environment Agency, "European Air Quality Index:
 * bands and thresholds", hourly concentrations, µg/m³), in force for the EEA's index since 2024.
 * https://airindex.eea.europa.eu/AQI/index.html
 */
const EAQI_LABELS = ['good', 'fair', 'moderate', 'poor', 'very poor', 'extremely poor'] as const;
const EAQI_COLORS = ['#50f0e6', '#50ccaa', '#f0e641', '#ff5050', '#960032', '#7d2181'] as const;
const EAQI_SOURCE = 'EEA European Air Quality Index, 2024 revision (hourly values, µg/m³)';

const eaqi = (metric: Metric, bounds: number[]): BandScale => ({
  metric,
  kind: 'eaqi',
  bounds,
  labels: EAQI_LABELS,
  colors: EAQI_COLORS,
  source: EAQI_SOURCE,
  upperInclusive: true,
});

/**
 * Noise: the 5 dB(A) classes of EU strategic noise maps (Directive 2002/49/EC, END, and its reporting
 * guidance), coloured with the palette of the maps, with the WHO Environmental Noise Guidelines for the
 * European Region (2018) for road traffic marked: 53 dB Lden, 45 dB Lnight.
 */
const NOISE_BOUNDS = [40, 45, 50, 55, 60, 65, 70, 75, 80];
const NOISE_LABELS = ['<40', '40–44', '45–49', '50–54', '55–59', '60–64', '65–69', '70–74', '75–79', '≥80'];
const NOISE_COLORS = [
  '#238443',
  '#78c679',
  '#c2e699',
  '#ffffb2',
  '#fecc5c',
  '#fd8d3c',
  '#ff0909',
  '#b30622',
  '#67033b',
  '#1c0054',
];
export const WHO_NOISE_GUIDELINES = {
  lden: 53,
  lnight: 45,
  source: 'WHO Environmental Noise Guidelines for the European Region (2018), road traffic',
} as const;

export const BAND_SCALES: Readonly<Partial<Record<Metric, BandScale>>> = {
  pm25: eaqi('pm25', [5, 15, 50, 90, 140]),
  pm10: eaqi('pm10', [15, 45, 120, 195, 270]),
  no2: eaqi('no2', [10, 25, 60, 100, 150]),
  o3: eaqi('o3', [60, 100, 120, 160, 180]),
  noise_laeq: {
    metric: 'noise_laeq',
    kind: 'noise',
    bounds: NOISE_BOUNDS,
    labels: NOISE_LABELS,
    colors: NOISE_COLORS,
    source: 'EU END strategic noise map classes (5 dB(A)); WHO 2018 guideline marked',
    upperInclusive: false,
  },
};

/** The band a value falls in, or undefined for a metric without an index (temperature...). */
export function bandFor(metric: Metric, value: number): Band | undefined {
  const scale = BAND_SCALES[metric];
  if (!scale || !Number.isFinite(value)) return undefined;
  let i = 0;
  while (
    i < scale.bounds.length &&
    (scale.upperInclusive ? value > scale.bounds[i]! : value >= scale.bounds[i]!)
  ) {
    i++;
  }
  return { level: i + 1, label: scale.labels[i]!, color: scale.colors[i]! };
}

/** Legend rows of a scale: level, label, colour and the value range it covers. */
export function legendFor(metric: Metric): Array<Band & { from: number | null; to: number | null }> {
  const scale = BAND_SCALES[metric];
  if (!scale) return [];
  return scale.labels.map((label, i) => ({
    level: i + 1,
    label,
    color: scale.colors[i]!,
    from: i === 0 ? null : scale.bounds[i - 1]!,
    to: i < scale.bounds.length ? scale.bounds[i]! : null,
  }));
}
