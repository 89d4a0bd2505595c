import ngeohash from 'ngeohash';

export interface Position {
  lat: number;
  lon: number;
}

/** Length of the geohash stored as a tag with every point: ~1.2 km × 0.6 km cells. */
export const STORED_GEOHASH_LENGTH = 6;

export const geohash = (p: Position, length = STORED_GEOHASH_LENGTH): string =>
  ngeohash.encode(p.lat, p.lon, length);

/** [minLat, minLon, maxLat, maxLon] of a geohash cell. */
export const geohashBounds = (hash: string): [number, number, number, number] =>
  ngeohash.decode_bbox(hash) as [number, number, number, number];

/**
 * A geohash cell as a GeoJSON Polygon: its counter-clockwise exterior ring (RFC 7946 §3.1.6), each corner
 * passed through `round` (the api's answers carry 6 decimals).
 */
export function geohashPolygon(
  hash: string,
  round: (v: number) => number = (v) => v,
): { type: 'Polygon'; coordinates: [number, number][][] } {
  const [s, w, n, e] = geohashBounds(hash).map(round) as [number, number, number, number];
  return {
    type: 'Polygon',
    coordinates: [
      [
        [w, s],
        [e, s],
        [e, n],
        [w, n],
        [w, s],
      ],
    ],
  };
}

export const geohashCenter = (hash: string): Position => {
  const { latitude, longitude } = ngeohash.decode(hash);
  return { lat: latitude, lon: longitude };
};

/** A position outside the earth, or exactly 0,0 ("null island", an unset GPS), is not a position. */
export function positionProblem(lat: unknown, lon: unknown): string | undefined {
  if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon)) {
    return 'lat and lon must both be finite numbers';
  }
  if (lat < -90 || lat > 90) return `lat ${lat} outside -90..90`;
  if (lon < -180 || lon > 180) return `lon ${lon} outside -180..180`;
  if (lat === 0 && lon === 0) return 'position 0,0 is an unset GPS fix';
  return undefined;
}
