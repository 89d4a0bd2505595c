import { geohash, geohashCenter, type LocationClass, type Position } from '@citytel/contract';
import type { Device } from '@citytel/store';

/**
 * The only position of a reading or a device that leaves the api. Home / indoor kits, and mobile kits
 * whose owner did not opt in to a public track, are served at the centre of their geohash cell of length
 * 7 (about 150 m × 150 m), never at their own position: the devices list, the map (its bbox filter and
 * its fine cells), the export and the live stream all place them here, so no combination of requests
 * narrows a home, or a citizen's path, down further than its cell.
 */
export const BLUR_GEOHASH_LENGTH = 7;

/** The centre of the position's length-7 cell, unrounded, so that finer cells of it are deterministic. */
export function blurPosition(p: Position): Position {
  return geohashCenter(geohash(p, BLUR_GEOHASH_LENGTH));
}

export function publicPosition(p: Position, loc: LocationClass | string | undefined): Position {
  return loc === 'indoor' ? blurPosition(p) : p;
}

/**
 * How a device's positions may be shown to someone without an account:
 * - `hidden`: a car. Its position tells where a member goes, so no public answer carries it with the car's
 *   id (the public fleet view places a free car at its station; its air readings reach the public only
 *   aggregated in the map's cells, with no id and no track).
 * - `cell`: an indoor kit, or a mobile kit without `publicTrack`: at the centre of its length-7 cell.
 * - `exact`: a fixed outdoor kit, or a mobile kit whose owner opted in to a public track.
 */
export type Placement = 'exact' | 'cell' | 'hidden';

export function placementOf(d: Pick<Device, 'kind' | 'mobile' | 'indoor' | 'publicTrack'>): Placement {
  if (d.kind === 'vehicle') return 'hidden';
  if (d.indoor) return 'cell';
  if (d.mobile && !d.publicTrack) return 'cell';
  return 'exact';
}

/** A position as placed for the public; undefined for a hidden device. */
export function placed(p: Position, placement: Placement): Position | undefined {
  if (placement === 'hidden') return undefined;
  return placement === 'cell' ? blurPosition(p) : p;
}

/** Six decimals: ~0.1 m, beyond any kit's GPS. */
export const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;
