import type { Position } from '@citytel/contract';

const EARTH_RADIUS_M = 6_371_000;
const rad = (d: number) => (d * Math.PI) / 180;
const deg = (r: number) => (r * 180) / Math.PI;

/** Great-circle distance in metres. */
export function distanceM(a: Position, b: Position): number {
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial bearing from a to b, degrees clockwise from north in [0, 360). */
export function bearingDeg(a: Position, b: Position): number {
  const y = Math.sin(rad(b.lon - a.lon)) * Math.cos(rad(b.lat));
  const x =
    Math.cos(rad(a.lat)) * Math.sin(rad(b.lat)) -
    Math.sin(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.cos(rad(b.lon - a.lon));
  return (deg(Math.atan2(y, x)) + 360) % 360;
}

/** Straight interpolation; at city scale the error against the great circle is far below GPS noise. */
export const lerp = (a: Position, b: Position, f: number): Position => ({
  lat: a.lat + (b.lat - a.lat) * f,
  lon: a.lon + (b.lon - a.lon) * f,
});

/** Moves a point by metres north and east. */
export function offsetM(p: Position, northM: number, eastM: number): Position {
  return {
    lat: p.lat + deg(northM / EARTH_RADIUS_M),
    lon: p.lon + deg(eastM / (EARTH_RADIUS_M * Math.cos(rad(p.lat)))),
  };
}

/** Distance in metres from p to the segment a–b, in a local flat projection around p. */
export function distanceToSegmentM(p: Position, a: Position, b: Position): number {
  const kx = Math.cos(rad(p.lat)) * rad(1) * EARTH_RADIUS_M;
  const ky = rad(1) * EARTH_RADIUS_M;
  const ax = (a.lon - p.lon) * kx;
  const ay = (a.lat - p.lat) * ky;
  const bx = (b.lon - p.lon) * kx;
  const by = (b.lat - p.lat) * ky;
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2));
  return Math.hypot(ax + t * dx, ay + t * dy);
}

export function distanceToPolylineM(p: Position, line: readonly Position[]): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 1; i < line.length; i++) best = Math.min(best, distanceToSegmentM(p, line[i - 1]!, line[i]!));
  if (line.length === 1) best = distanceM(p, line[0]!);
  return best;
}

/** Rounds a coordinate to 6 decimals (~0.1 m), as GPS modules print them. */
export const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
