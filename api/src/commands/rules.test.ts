import type { Booking, Device, Operator } from '@citytel/store';
import { describe, expect, it } from 'vitest';
import { requestHash, requireIdempotencyKey } from './idempotency.ts';
import { bookingRefusal, bookingStatus, vehicleRefusal } from './rules.ts';

const T = Date.parse('2026-11-22T10:00:00Z');
const at = (min: number) => new Date(T + min * 60_000);
const GRACE = 15 * 60_000;

const booking: Booking = {
  id: 'bk_1',
  operatorId: 'coop',
  vehicleId: 'car-1',
  memberId: 'anne',
  start: at(0),
  end: at(60),
  createdAt: at(-600),
  cancelledAt: null,
  returnedAt: null,
  homeOperatorId: 'coop',
  odometerStartKm: null,
  odometerEndKm: null,
  credentialHash: null,
};
const ask = (action: 'unlock' | 'lock', min: number, memberId?: string) => ({
  vehicleId: 'car-1',
  action,
  memberId,
  now: at(min),
  graceMs: GRACE,
});
const code = (b: Booking, a: ReturnType<typeof ask>) => bookingRefusal(b, a)?.code;

describe('unlock', () => {
  it('is allowed from the start minus the grace period until the end', () => {
    expect([-15, -1, 0, 30, 59.99].map((m) => code(booking, ask('unlock', m)))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('is refused before the grace period and from the end on', () => {
    expect(code(booking, ask('unlock', -15.01))).toBe('booking_not_active');
    expect(code(booking, ask('unlock', 60))).toBe('booking_not_active');
    expect(bookingRefusal(booking, ask('unlock', 61))?.message).toBe(
      'booking bk_1 ended at 2026-11-22T11:00:00.000Z',
    );
  });

  it('is refused on a cancelled booking, for another car, or for another member', () => {
    expect(code({ ...booking, cancelledAt: at(-5) }, ask('unlock', 5))).toBe('booking_cancelled');
    expect(code({ ...booking, vehicleId: 'car-2' }, ask('unlock', 5))).toBe('booking_other_vehicle');
    expect(code(booking, ask('unlock', 5, 'mallory'))).toBe('not_booking_member');
    expect(code(booking, ask('unlock', 5, 'anne'))).toBeUndefined();
  });
});

describe('lock', () => {
  it('is allowed at any time, by the booking member or the operator', () => {
    for (const m of [-600, 0, 61, 6000]) expect(code(booking, ask('lock', m))).toBeUndefined();
    expect(code({ ...booking, cancelledAt: at(-5) }, ask('lock', 5, 'anne'))).toBeUndefined();
  });

  it('is refused for another member or a booking of another car', () => {
    expect(code(booking, ask('lock', 5, 'mallory'))).toBe('not_booking_member');
    expect(code({ ...booking, vehicleId: 'car-2' }, ask('lock', 5))).toBe('booking_other_vehicle');
  });
});

describe('vehicle ownership', () => {
  const op = (id: string, admin = false): Operator => ({ id, name: id, admin, createdAt: at(0) });
  const device = (kind: Device['kind'], operatorId: string | null): Device => ({
    id: 'car-1',
    kind,
    operatorId,
    name: null,
    lat: null,
    lon: null,
    mobile: true,
    indoor: false,
    publicTrack: false,
    createdAt: at(0),
    lastSeenAt: null,
    firmware: null,
  });
  it("lets the car's operator and admins command it, nobody else", () => {
    expect(vehicleRefusal('car-1', device('vehicle', 'coop'), op('coop'))).toBeUndefined();
    expect(vehicleRefusal('car-1', device('vehicle', 'coop'), op('root', true))).toBeUndefined();
    expect(vehicleRefusal('car-1', device('vehicle', 'coop'), op('other'))?.code).toBe('not_your_vehicle');
    expect(vehicleRefusal('car-1', device('native', 'coop'), op('coop'))?.code).toBe('vehicle_not_found');
    expect(vehicleRefusal('car-1', undefined, op('coop'))?.code).toBe('vehicle_not_found');
  });
});

describe('booking status', () => {
  it('follows the clock, and cancelled wins', () => {
    expect([-1, 0, 59, 60].map((m) => bookingStatus(booking, at(m)))).toEqual([
      'upcoming',
      'active',
      'active',
      'ended',
    ]);
    expect(bookingStatus({ ...booking, cancelledAt: at(-5) }, at(5))).toBe('cancelled');
  });
});

describe('Idempotency-Key', () => {
  it('is required and must be visible ASCII up to 255 characters', () => {
    expect(requireIdempotencyKey('2f1c7a0e-6d1b-4a0e-9d0c-1f2e3d4c5b6a')).toBe(
      '2f1c7a0e-6d1b-4a0e-9d0c-1f2e3d4c5b6a',
    );
    expect(() => requireIdempotencyKey(undefined)).toThrow(
      expect.objectContaining({ code: 'idempotency_key_required' }),
    );
    expect(() => requireIdempotencyKey('')).toThrow(
      expect.objectContaining({ code: 'idempotency_key_required' }),
    );
    expect(() => requireIdempotencyKey('has space')).toThrow(
      expect.objectContaining({ code: 'invalid_parameter' }),
    );
    expect(() => requireIdempotencyKey('x'.repeat(256))).toThrow(
      expect.objectContaining({ code: 'invalid_parameter' }),
    );
  });

  it('compares requests by car and body, field order aside', () => {
    const base = { vehicleId: 'car-1', action: 'unlock', bookingId: 'bk_1', queue: false };
    expect(requestHash(base)).toBe(
      requestHash({ queue: false, bookingId: 'bk_1', action: 'unlock', vehicleId: 'car-1' }),
    );
    expect(requestHash(base)).not.toBe(requestHash({ ...base, action: 'lock' }));
    expect(requestHash(base)).not.toBe(requestHash({ ...base, vehicleId: 'car-2' }));
    expect(requestHash(base)).not.toBe(requestHash({ ...base, memberId: 'anne' }));
    expect(requestHash(base)).not.toBe(requestHash({ ...base, ttlS: 60 }));
  });
});
