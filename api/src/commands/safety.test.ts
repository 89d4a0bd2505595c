import { describe, expect, it } from 'vitest';
import type { VehicleLive } from './fleet.ts';
import { lockRefusal, returnRefusal } from './safety.ts';
import { commandExpiry } from './service.ts';

const NOW = new Date('2026-11-22T10:00:00Z');
const car = (over: Partial<VehicleLive> = {}): VehicleLive => ({
  id: 'car-1',
  online: true,
  statusAt: NOW,
  locked: true,
  telemetryAt: new Date(NOW.getTime() - 10_000),
  position: { lat: 48.1, lon: -1.67 },
  numbers: { speed_kmh: 0 },
  ignition: false,
  doorsClosed: true,
  ...over,
});
const lockSettings = { LOCK_REFUSE_MOVING: true, LOCK_REFUSE_IGNITION: true, MOVING_SPEED_KMH: 3 };

describe('lockRefusal', () => {
  it('refuses above the moving speed, then with the ignition on; each switchable', () => {
    expect(lockRefusal(car({ numbers: { speed_kmh: 3.1 }, ignition: true }), lockSettings)?.code).toBe(
      'vehicle_moving',
    );
    expect(lockRefusal(car({ numbers: { speed_kmh: 3 }, ignition: true }), lockSettings)?.code).toBe(
      'ignition_on',
    );
    expect(lockRefusal(car(), lockSettings)).toBeUndefined();
    expect(lockRefusal(undefined, lockSettings)).toBeUndefined();
    const off = { ...lockSettings, LOCK_REFUSE_MOVING: false, LOCK_REFUSE_IGNITION: false };
    expect(lockRefusal(car({ numbers: { speed_kmh: 50 }, ignition: true }), off)).toBeUndefined();
  });
});

describe('returnRefusal', () => {
  const s = { RETURN_STATUS_MAX_AGE_S: 60 };
  it('needs a recent report of a locked car, doors closed, engine off', () => {
    expect(returnRefusal('car-1', car(), NOW, s)).toBeUndefined();
    expect(returnRefusal('car-1', car({ doorsClosed: false }), NOW, s)?.message).toContain('doors open');
    expect(returnRefusal('car-1', car({ locked: false, ignition: true }), NOW, s)?.message).toContain(
      'not locked, ignition on',
    );
    const old = car({ telemetryAt: new Date(NOW.getTime() - 61_000) });
    expect(returnRefusal('car-1', old, NOW, s)?.code).toBe('vehicle_status_stale');
    expect(returnRefusal('car-1', car({ online: false }), NOW, s)?.code).toBe('vehicle_status_stale');
    expect(returnRefusal('car-1', undefined, NOW, s)?.code).toBe('vehicle_status_stale');
  });
});

describe('commandExpiry', () => {
  const g = { COMMAND_END_GRACE_S: 60 };
  it("is the ttl, capped at the booking's end plus the grace, except after that", () => {
    const end = new Date(NOW.getTime() + 10_000);
    expect(commandExpiry(NOW, { end }, 30, g)).toEqual(new Date(NOW.getTime() + 30_000));
    expect(commandExpiry(NOW, { end }, 3600, g)).toEqual(new Date(end.getTime() + 60_000));
    const longAgo = new Date(NOW.getTime() - 3600_000);
    expect(commandExpiry(NOW, { end: longAgo }, 30, g)).toEqual(new Date(NOW.getTime() + 30_000));
  });
});
