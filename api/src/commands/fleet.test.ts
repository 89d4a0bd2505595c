import { stamp } from '@citytel/contract';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Fleet } from './fleet.ts';

const log = pino({ level: 'silent' });
const json = (o: unknown) => Buffer.from(JSON.stringify(o));

describe('the fleet state', () => {
  it('takes online and lock from the retained status, and offline from the last will', () => {
    const fleet = new Fleet(undefined, log);
    expect(fleet.isOnline('car-1')).toBe(false);
    fleet.onStatus('vehicles/car-1/status', json({ online: true, locked: true, ts: '2026-11-22T10:00:00Z' }));
    expect(fleet.get('car-1')).toMatchObject({ online: true, locked: true, statusAt: expect.any(Date) });
    fleet.onStatus('vehicles/car-1/status', Buffer.from('{"online":false}'));
    expect(fleet.isOnline('car-1')).toBe(false);
    expect(fleet.get('car-1')?.locked).toBe(true);
    fleet.onStatus('vehicles/car-1/status', Buffer.from('not json'));
    fleet.onStatus('vehicles/car-1/telemetry', json({ online: true }));
    expect(fleet.isOnline('car-1')).toBe(false);
  });

  it('keeps the latest telemetry, unstamped, and ignores an older one arriving late', () => {
    const fleet = new Fleet(undefined, log);
    const t = {
      ts: '2026-11-22T10:15:00Z',
      lat: 48.1113,
      lon: -1.68,
      speed_kmh: 32.5,
      odometer_km: 48211.4,
      fuel_pct: 62,
      battery_pct: null,
      ignition: true,
      locked: false,
      doors_closed: true,
    };
    fleet.onTelemetry('vehicles/car-1/telemetry', stamp(json(t), Date.parse('2026-11-22T10:15:01Z')));
    fleet.onTelemetry(
      'vehicles/car-1/telemetry',
      json({ ...t, ts: '2026-11-22T10:14:00Z', lat: 48.2, locked: true }),
    );
    expect(fleet.get('car-1')).toMatchObject({
      telemetryAt: new Date('2026-11-22T10:15:00Z'),
      position: { lat: 48.1113, lon: -1.68 },
      numbers: { speed_kmh: 32.5, odometer_km: 48211.4, fuel_pct: 62 },
      ignition: true,
      locked: false,
      doorsClosed: true,
      online: false,
    });
    // Without its own time, the broker's receive time dates it.
    const { ts: _ts, ...untimed } = t;
    fleet.onTelemetry('vehicles/car-2/telemetry', stamp(json(untimed), Date.parse('2026-11-22T10:16:00Z')));
    expect(fleet.get('car-2')?.telemetryAt).toEqual(new Date('2026-11-22T10:16:00Z'));
  });
});
