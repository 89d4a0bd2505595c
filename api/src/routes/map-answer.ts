import { BAND_SCALES, EAQI_PERIODS, EAQI_SOURCE, type IndexPollutant, type Metric } from '@citytel/contract';
import { z } from 'zod';
import { round3 } from '../influx/http.ts';
import { isCorrectedMetric } from '../influx/map-points.ts';
import type { CellAggregate } from '../influx/map-query.ts';
import { formatDuration, UNIT_MS } from '../influx/time.ts';

/** The map's answer: its schema, its index and what it says of corrected and flagged readings. */
export const bandSchema = z
  .object({ level: z.number().int(), label: z.string(), color: z.string() })
  .meta({ id: 'Band' });

export const mapCellSchema = z
  .object({
    type: z.literal('Feature'),
    geometry: z.object({ type: z.literal('Polygon'), coordinates: z.array(z.array(z.array(z.number()))) }),
    properties: z.object({
      cell: z.string().describe('geohash of the cell'),
      mean: z.number(),
      max: z.number(),
      count: z.number().int().describe('readings'),
      devices: z.number().int().describe('distinct devices that contributed'),
      band: bandSchema
        .nullable()
        .describe('index band of the mean; null for a metric without one, or when `index.status` says why'),
    }),
  })
  .meta({ id: 'MapCell' });

export const mapSchema = z
  .object({
    type: z.literal('FeatureCollection'),
    metric: z.string(),
    unit: z.string(),
    cell: z.number().int(),
    window: z.string(),
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    index: z
      .object({
        scale: z.enum(['eaqi', 'noise']),
        period: z.string().describe('the averaging period the index is defined on'),
        status: z.enum(['ok', 'insufficient_data']),
        reason: z.string().optional(),
        source: z.string(),
      })
      .nullable()
      .describe('how the bands were given: the index, its period, and why there are none'),
    correction: z
      .object({
        used: z.boolean().describe('whether corrected values were served where readings have them'),
        methods: z.array(z.string()).describe('methods (`id@version`) of the values served corrected'),
        share: z.number().describe('fraction of the readings counted that were served corrected, 0 to 1'),
        reason: z.string().optional().describe('why measured values only were served'),
      })
      .nullable()
      .describe(
        'PM2.5 and PM10: each reading counts by its humidity-corrected value where it has one, by its ' +
          'measured value otherwise; null for other metrics',
      ),
    flagged: z.enum(['include', 'exclude']).describe('whether readings flagged stuck or jump were counted'),
    legend: z.array(
      bandSchema.extend({
        from: z.number().nullable().describe('lower bound'),
        to: z.number().nullable().describe('upper bound'),
      }),
    ),
    features: z.array(mapCellSchema),
  })
  .meta({ id: 'MapCells', description: 'GeoJSON FeatureCollection of geohash cells with their aggregates' });
export type MapAnswer = z.infer<typeof mapSchema>;

/** Longest window `flagged=exclude` reads (raw readings point by point, as the series does). */
export const UNFLAGGED_MAX_WINDOW_MS = 7 * UNIT_MS.d;

export interface MapChoice {
  corrected: boolean;
  flagged: 'include' | 'exclude';
}

/**
 * The index of a map: the EEA index is defined on a 24-hour running mean for PM and hourly values for NO2
 * and O3 (contract air-index.ts), so a band is given only for a window of exactly that period; any other
 * window's mean is served without a band, and the answer says why. Noise classes band any energy mean.
 */
export function mapIndex(metric: Metric, window: number): MapAnswer['index'] {
  const scale = BAND_SCALES[metric];
  if (!scale) return null;
  if (scale.kind === 'noise')
    return { scale: 'noise', period: 'the window', status: 'ok', source: scale.source };
  const p = EAQI_PERIODS[metric as IndexPollutant];
  if (window === p.ms) return { scale: 'eaqi', period: p.label, status: 'ok', source: EAQI_SOURCE };
  return {
    scale: 'eaqi',
    period: p.label,
    status: 'insufficient_data',
    reason: `the EEA index is defined on the ${p.label}: ask window=${formatDuration(p.ms)} for its bands`,
    source: EAQI_SOURCE,
  };
}

/** What the answer says of the correction: used or not, by which methods, on what share of the readings. */
export function correctionOf(
  metric: Metric,
  wanted: boolean,
  cells: readonly CellAggregate[],
  methods: ReadonlySet<string>,
): MapAnswer['correction'] {
  if (!isCorrectedMetric(metric)) return null;
  if (!wanted) return { used: false, methods: [], share: 0, reason: 'corrected=false asked' };
  let count = 0;
  let corrected = 0;
  for (const c of cells) {
    count += c.count;
    corrected += c.corrected;
  }
  return {
    used: corrected > 0,
    methods: [...methods].sort(),
    share: count > 0 ? round3(corrected / count) : 0,
  };
}
