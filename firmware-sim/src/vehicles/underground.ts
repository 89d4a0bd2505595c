import type { City } from '../city.ts';
import { isUnderground } from './fleet-setup.ts';

/** Where the car is, as far as its radio cares: parked at a station or driving towards one. */
export interface Whereabouts {
  phase: 'parked' | 'driving';
  station: string;
}

/**
 * The uplink rule of a car that parks underground, where no mobile network reaches: its trip ends at such a
 * station, it reports its parked status and telemetry while still in coverage at the ramp, then loses the
 * network ('cut'); a trip starts from there, it drives up the ramp and is back in coverage ('restore').
 * Decided on the phase change only, so a car that starts the run parked underground keeps the uplink it
 * has until its first trip (it needs it to receive its booking list).
 */
export function uplinkChange(
  city: City,
  before: Whereabouts,
  after: Whereabouts,
): 'cut' | 'restore' | undefined {
  if (before.phase === 'driving' && after.phase === 'parked' && isUnderground(city, after.station))
    return 'cut';
  if (before.phase === 'parked' && after.phase === 'driving' && isUnderground(city, before.station))
    return 'restore';
  return undefined;
}
