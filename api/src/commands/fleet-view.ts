import type { Booking, Device } from '@citytel/store';
import { z } from 'zod';
import type { VehicleLive } from './fleet.ts';

/** A car this far from its station (GPS noise, the far end of a car park) still counts as there. */
export const AT_STATION_M = 150;

const EARTH_M = 6_371_008.8;
const rad = (d: number) => (d * Math.PI) / 180;

export function distanceM(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

const position = z.object({ lat: z.number(), lon: z.number() });

/** One car as its operator sees it (CONTRACT §4: position, online, locked, fuel/battery, current booking). */
export const operatorVehicleSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  operatorId: z.string().nullable(),
  online: z.boolean().describe('from the retained status and the last will'),
  statusAt: z.iso.datetime().nullable().describe('when the api last heard the status'),
  locked: z.boolean().nullable(),
  ignition: z.boolean().nullable(),
  doorsClosed: z.boolean().nullable(),
  position: position.nullable().describe('latest reported position'),
  speedKmh: z.number().nullable(),
  heading: z.number().nullable(),
  odometerKm: z.number().nullable(),
  fuelPct: z.number().nullable(),
  batteryPct: z.number().nullable(),
  batteryV: z.number().nullable(),
  telemetryAt: z.iso.datetime().nullable(),
  station: position.nullable().describe('registered home station'),
  currentBooking: z
    .object({ id: z.string(), memberId: z.string(), start: z.iso.datetime(), end: z.iso.datetime() })
    .nullable()
    .describe('the booking running now, if any'),
  available: z.boolean().describe('what the public view would show: free, parked at its station, online'),
});
export type OperatorVehicle = z.infer<typeof operatorVehicleSchema>;

/** One available car as anybody sees it: at its station, like a GBFS vehicle with a station_id, no state. */
export const publicVehicleSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  operatorId: z.string().nullable(),
  lat: z.number().describe("the station's position, never the car's own"),
  lon: z.number(),
});
export type PublicVehicle = z.infer<typeof publicVehicleSchema>;

export const fleetSchema = z
  .discriminatedUnion('view', [
    z.object({ view: z.literal('operator'), vehicles: z.array(operatorVehicleSchema) }),
    z.object({ view: z.literal('public'), vehicles: z.array(publicVehicleSchema) }),
  ])
  .meta({
    id: 'Fleet',
    description:
      'With an operator token: its cars with every field. Without: only the cars free to book now, at ' +
      'their station, with no live position.',
  });

/**
 * Free to book now, for anyone: online, locked, engine off, no booking now or within the grace period
 * (GBFS `is_reserved`), and parked at its registered station.
 */
export function isAvailable(d: Device, live: VehicleLive | undefined, reserved: boolean): boolean {
  if (!live?.online || live.locked === false || live.ignition === true || reserved) return false;
  if (d.lat === null || d.lon === null) return false;
  return !live.position || distanceM(live.position, { lat: d.lat, lon: d.lon }) <= AT_STATION_M;
}

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

export function operatorVehicle(
  d: Device,
  live: VehicleLive | undefined,
  current: Booking | undefined,
  reserved: boolean,
): OperatorVehicle {
  const n = live?.numbers ?? {};
  return {
    id: d.id,
    name: d.name,
    operatorId: d.operatorId,
    online: live?.online ?? false,
    statusAt: live?.statusAt ? live.statusAt.toISOString() : null,
    locked: orNull(live?.locked),
    ignition: orNull(live?.ignition),
    doorsClosed: orNull(live?.doorsClosed),
    position: live?.position ?? null,
    speedKmh: orNull(n.speed_kmh),
    heading: orNull(n.heading),
    odometerKm: orNull(n.odometer_km),
    fuelPct: orNull(n.fuel_pct),
    batteryPct: orNull(n.battery_pct),
    batteryV: orNull(n.battery_v),
    telemetryAt: live?.telemetryAt ? live.telemetryAt.toISOString() : null,
    station: d.lat !== null && d.lon !== null ? { lat: d.lat, lon: d.lon } : null,
    currentBooking: current
      ? {
          id: current.id,
          memberId: current.memberId,
          start: current.start.toISOString(),
          end: current.end.toISOString(),
        }
      : null,
    available: isAvailable(d, live, reserved),
  };
}

/**
 * Nothing of the car's own state: no live position (a free car stands at its station), and no lock, doors,
 * ignition, fuel, battery or odometer, which would make a public map of unlocked or idle cars.
 */
export function publicVehicle(d: Device): PublicVehicle {
  return { id: d.id, name: d.name, operatorId: d.operatorId, lat: d.lat!, lon: d.lon! };
}
