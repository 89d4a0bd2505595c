import { BAND_SCALES, bandFor, legendFor, type Metric } from '@citytel/contract';

/** The measures of the metric switcher, in its order. */
export const MAP_METRICS = [
  'pm25',
  'pm10',
  'no2',
  'o3',
  'noise_laeq',
  'temperature',
  'humidity',
] as const satisfies readonly Metric[];
export type MapMetric = (typeof MAP_METRICS)[number];
export const isMapMetric = (s: string | null): s is MapMetric => MAP_METRICS.includes(s as MapMetric);

/**
 * Display ramps for measures without a health index. They are not bands (nothing here says good or bad),
 * only steps of value, in ColorBrewer schemes that stay ordered for colour-blind readers: RdYlBu
 * (diverging, cold to warm) and YlGnBu (sequential, dry to humid).
 */
const RAMPS: Partial<Record<Metric, { bounds: number[]; colors: string[] }>> = {
  temperature: {
    bounds: [0, 5, 10, 15, 20, 25, 30],
    colors: ['#313695', '#4575b4', '#74add1', '#abd9e9', '#fee090', '#fdae61', '#f46d43', '#a50026'],
  },
  humidity: {
    bounds: [30, 45, 60, 75, 90],
    colors: ['#ffffcc', '#c7e9b4', '#7fcdbb', '#41b6c4', '#2c7fb8', '#253494'],
  },
};

export const NO_VALUE_COLOR = '#9aa3ad';

/** How a value is drawn: its colour, its band (level ≥ 1, 0 for a ramp step) and the band's label. */
export interface Shade {
  color: string;
  level: number;
  label: string;
  indexed: boolean;
}

export function shadeFor(metric: Metric, value: number | null | undefined): Shade | undefined {
  if (value === null || value === undefined || !Number.isFinite(value)) return undefined;
  const band = bandFor(metric, value);
  if (band) return { color: band.color, level: band.level, label: band.label, indexed: true };
  const ramp = RAMPS[metric];
  if (!ramp) return { color: '#6b7c93', level: 0, label: '', indexed: false };
  let i = 0;
  while (i < ramp.bounds.length && value >= ramp.bounds[i]!) i++;
  return { color: ramp.colors[i]!, level: 0, label: '', indexed: false };
}

export interface LegendRow {
  level: number;
  label: string;
  color: string;
  from: number | null;
  to: number | null;
}

/** The legend of a measure: the contract's band table, or the display ramp. */
export function legendRows(metric: Metric): { kind: 'eaqi' | 'noise' | 'ramp'; rows: LegendRow[] } {
  const scale = BAND_SCALES[metric];
  if (scale) return { kind: scale.kind, rows: legendFor(metric) };
  const ramp = RAMPS[metric];
  if (!ramp) return { kind: 'ramp', rows: [] };
  return {
    kind: 'ramp',
    rows: ramp.colors.map((color, i) => ({
      level: 0,
      label: '',
      color,
      from: i === 0 ? null : ramp.bounds[i - 1]!,
      to: i < ramp.bounds.length ? ramp.bounds[i]! : null,
    })),
  };
}

/** Black or white, whichever reads better on `hex` (WCAG relative luminance). */
export function inkFor(hex: string): '#111111' | '#ffffff' {
  const n = Number.parseInt(hex.slice(1), 16);
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin((n >> 16) & 255) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
  return l > 0.2 ? '#111111' : '#ffffff';
}
