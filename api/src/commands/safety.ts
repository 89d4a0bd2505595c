import type { CarsharingSettings } from './config.ts';
import type { VehicleLive } from './fleet.ts';
import type { Refusal } from './rules.ts';

type LockSettings = Pick<
  CarsharingSettings,
  'LOCK_REFUSE_MOVING' | 'LOCK_REFUSE_IGNITION' | 'MOVING_SPEED_KMH'
>;

/**
 * A lock is refused while the car reports itself moving or its engine running (each configurable): locking
 * the doors of a car in traffic traps its occupants and, on many cars, arms the immobiliser at the next
 * stop. What the car last reported decides; a car never heard from is not refused (nothing says it moves).
 */
export function lockRefusal(live: VehicleLive | undefined, s: LockSettings): Refusal | undefined {
  const speed = live?.numbers.speed_kmh;
  if (s.LOCK_REFUSE_MOVING && speed !== undefined && speed > s.MOVING_SPEED_KMH) {
    return {
      code: 'vehicle_moving',
      message: `vehicle ${live!.id} reports ${speed} km/h (more than ${s.MOVING_SPEED_KMH}); it is not locked while moving`,
    };
  }
  if (s.LOCK_REFUSE_IGNITION && live?.ignition === true) {
    return {
      code: 'ignition_on',
      message: `vehicle ${live.id} reports its ignition on; it is not locked while the engine runs`,
    };
  }
  return undefined;
}

/**
 * A return ends a booking early only on the car's own recent report (telemetry no older than
 * RETURN_STATUS_MAX_AGE_S, by the car's clock or the broker's) showing it locked with its doors closed and
 * the engine off: the member cannot walk away from an open car and stop paying.
 */
export function returnRefusal(
  vehicleId: string,
  live: VehicleLive | undefined,
  now: Date,
  s: Pick<CarsharingSettings, 'RETURN_STATUS_MAX_AGE_S'>,
): Refusal | undefined {
  const maxAgeMs = s.RETURN_STATUS_MAX_AGE_S * 1000;
  const at = live?.telemetryAt;
  if (!live?.online || !at || now.getTime() - at.getTime() > maxAgeMs) {
    return {
      code: 'vehicle_status_stale',
      message:
        `no report from vehicle ${vehicleId} in the last ${s.RETURN_STATUS_MAX_AGE_S} s` +
        (at ? ` (latest at ${at.toISOString()})` : '') +
        '; lock it and try again once it is online',
    };
  }
  const open: string[] = [];
  if (live.locked !== true) open.push('not locked');
  if (live.doorsClosed !== true) open.push('doors open');
  if (live.ignition === true) open.push('ignition on');
  if (open.length) {
    return {
      code: 'vehicle_not_secured',
      message: `vehicle ${vehicleId} reports ${open.join(', ')} (at ${at.toISOString()}); the booking goes on`,
    };
  }
  return undefined;
}
