import { geohash, geohashCenter, type LocationClass, type Position } from '@citytel/contract';

/**
 * The only position of a reading or a device that leaves the api. Home / indoor kits are served at the
 * centre of their geohash cell of length 7 (about 150 m × 150 m), never at their registered position: the
 * devices list, the map (its bbox filter and its fine cells), the export and the live stream all place
 * them here, so no combination of requests narrows a home down further than its cell.
 */
export const BLUR_GEOHASH_LENGTH = 7;

/** The centre of the position's length-7 cell, unrounded, so that finer cells of it are deterministic. */
export function blurPosition(p: Position): Position {
  return geohashCenter(geohash(p, BLUR_GEOHASH_LENGTH));
}

export function publicPosition(p: Position, loc: LocationClass | string | undefined): Position {
  return loc === 'indoor' ? blurPosition(p) : p;
}

/** Six decimals: ~0.1 m, beyond any kit's GPS. */
export const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;
