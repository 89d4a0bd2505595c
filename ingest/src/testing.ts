import type { Device } from '@citytel/store';
import pino from 'pino';
import { createDeviceCache, type DeviceCache, type DeviceDirectory } from './devices.ts';

/** A registry entry with the defaults of a freshly provisioned device (for unit tests and the benchmark). */
export function device(id: string, over: Partial<Device> = {}): Device {
  return {
    id,
    kind: 'native',
    operatorId: null,
    name: null,
    lat: null,
    lon: null,
    mobile: false,
    indoor: false,
    publicTrack: false,
    createdAt: new Date('2026-01-01T00:00:00Z'),
    lastSeenAt: null,
    firmware: null,
    ...over,
  };
}

/** An in-memory registry: devices by id, SCK kits also by token. */
export function directory(devices: Array<Device & { token?: string }>): DeviceDirectory & { calls: number } {
  const byId = new Map(devices.map((d) => [d.id, d]));
  const byToken = new Map(devices.filter((d) => d.token).map((d) => [d.token!, d]));
  const dir = {
    calls: 0,
    async get(id: string) {
      dir.calls++;
      return byId.get(id);
    },
    async findBySckToken(token: string) {
      dir.calls++;
      return byToken.get(token);
    },
  };
  return dir;
}

export function cacheOf(devices: Array<Device & { token?: string }>): DeviceCache {
  return createDeviceCache(directory(devices), {
    ttlMs: 60_000,
    unknownTtlMs: 1000,
    log: pino({ level: 'silent' }),
  });
}
