/**
 * The InfluxDB schema, shared by the ingest writer and the api's queries (documented in ingest/README.md).
 *
 * Series cardinality stays bounded: tags are the device id, its kind, its location class and a geohash of
 * length 6 (~1.2 × 0.6 km). A fixed kit has one cell; a mobile kit or car adds one series per cell it visits,
 * so a city of ~100 cells bounds it at devices × cells. Exact positions are fields, never tags.
 */
export const MEASUREMENTS = {
  /** Air and noise readings of every kit, and the air block of cars: one field per metric. */
  readings: 'readings',
  /** Vehicle telemetry. */
  vehicles: 'vehicles',
} as const;

export const READING_TAGS = {
  device: 'device',
  kind: 'kind',
  /** `fixed` | `mobile` | `indoor`. */
  loc: 'loc',
  geohash: 'gh',
} as const;

export const VEHICLE_TAGS = { vehicle: 'vehicle', geohash: 'gh' } as const;

/**
 * Fields besides the metrics: the position (always written), whose clock stamped the point, and its quality
 * flags `qf` / sensor error values `qerr` when it has some (quality.ts).
 */
export const POSITION_FIELDS = { lat: 'lat', lon: 'lon' } as const;
export const TIME_SOURCE_FIELD = 'tsrc';

export type LocationClass = 'fixed' | 'mobile' | 'indoor';
