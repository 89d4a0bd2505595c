import { describe, expect, it } from 'vitest';
import { commandAckSchema, commandMessageSchema } from './command.ts';
import { decodeVehicleTelemetry, VEHICLE_FIELDS } from './vehicle.ts';

const example = {
  ts: '2026-11-22T10:15:00Z',
  lat: 48.1113,
  lon: -1.68,
  speed_kmh: 32.5,
  heading: 270,
  odometer_km: 48211.4,
  fuel_pct: 62,
  battery_pct: null,
  battery_v: 12.6,
  ignition: true,
  locked: false,
  doors_closed: true,
  air: { pm25: 9.1, pm10: 15.3, noise_laeq: 66.0 },
};

describe('vehicle telemetry', () => {
  it('decodes the contract example with its air block as a mobile reading', () => {
    const r = decodeVehicleTelemetry(JSON.stringify(example));
    if (!r.ok) throw new Error(r.detail);
    expect(r.rejections).toEqual([]);
    const ts = new Date('2026-11-22T10:15:00Z');
    expect(r.vehicle).toEqual({
      ts,
      position: { lat: 48.1113, lon: -1.68 },
      numbers: { speed_kmh: 32.5, heading: 270, odometer_km: 48211.4, fuel_pct: 62, battery_v: 12.6 },
      flags: { ignition: true, locked: false, doors_closed: true },
      air: { ts, position: { lat: 48.1113, lon: -1.68 }, values: { pm25: 9.1, pm10: 15.3, noise_laeq: 66 } },
    });
  });

  it.each(Object.entries(VEHICLE_FIELDS))('drops %s out of range, keeping the rest', (field, range) => {
    const r = decodeVehicleTelemetry(JSON.stringify({ ...example, [field]: range.max + 1 }));
    if (!r.ok) throw new Error(r.detail);
    expect(r.vehicle.numbers[field as keyof typeof VEHICLE_FIELDS]).toBeUndefined();
    expect(r.vehicle.flags.locked).toBe(false);
    expect(r.rejections).toEqual([expect.objectContaining({ field, reason: 'out_of_range' })]);
  });

  it('drops a non-boolean flag', () => {
    const r = decodeVehicleTelemetry(JSON.stringify({ ...example, locked: 'yes' }));
    if (!r.ok) throw new Error(r.detail);
    expect(r.vehicle.flags.locked).toBeUndefined();
    expect(r.rejections[0]).toMatchObject({ field: 'locked', reason: 'wrong_type' });
  });

  it('keeps telemetry at 0,0 without a position, and its air reading is refused (cannot be placed)', () => {
    const r = decodeVehicleTelemetry(JSON.stringify({ ...example, lat: 0, lon: 0 }));
    if (!r.ok) throw new Error(r.detail);
    expect(r.vehicle.position).toBeUndefined();
    expect(r.vehicle.air).toBeUndefined();
    expect(r.rejections.map((x) => x.reason)).toEqual(['bad_position', 'missing_position']);
  });

  it('drops out-of-range air values', () => {
    const r = decodeVehicleTelemetry(
      JSON.stringify({ ...example, air: { pm25: -1, noise_laeq: 150, pm10: 3 } }),
    );
    if (!r.ok) throw new Error(r.detail);
    expect(r.vehicle.air?.values).toEqual({ pm10: 3 });
    expect(r.rejections.map((x) => x.field)).toEqual(['air.pm25', 'air.noise_laeq']);
  });

  it('rejects garbage and empty telemetry', () => {
    expect(decodeVehicleTelemetry('nope')).toMatchObject({ ok: false, reason: 'not_json' });
    expect(decodeVehicleTelemetry('{}')).toMatchObject({ ok: false, reason: 'no_valid_values' });
  });
});

describe('commands', () => {
  it('validates the contract command and ack', () => {
    const cmd = {
      id: 'cmd_01JDEF0123456789ABCDEFGH',
      action: 'unlock',
      bookingId: 'bk_123',
      issuedAt: '2026-11-22T10:15:00Z',
      expiresAt: '2026-11-22T10:15:30Z',
    };
    expect(commandMessageSchema.parse(cmd)).toEqual(cmd);
    expect(commandMessageSchema.safeParse({ ...cmd, action: 'open' }).success).toBe(false);
    expect(commandAckSchema.parse({ id: cmd.id, status: 'done', ts: '2026-11-22T10:15:01Z' }).status).toBe(
      'done',
    );
    expect(commandAckSchema.safeParse({ id: cmd.id, status: 'ok' }).success).toBe(false);
  });
});
