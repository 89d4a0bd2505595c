import {
  INGEST_SUBSCRIPTIONS,
  MAX_PAYLOAD_BYTES,
  STATS_SUBSCRIPTIONS,
  statsTopic,
  topics,
} from '@citytel/contract';
import { describe, expect, it } from 'vitest';
import { checkPublish, checkSubscribe, covers } from './acl.ts';
import type { Identity } from './identity.ts';

const kit: Identity = { type: 'device', kind: 'native', id: 'kit-1' };
const airrohr: Identity = { type: 'device', kind: 'airrohr', id: 'air-1' };
const car: Identity = { type: 'device', kind: 'vehicle', id: 'car-1' };
const sck: Identity = { type: 'sck', id: 'sck-1', token: 'abc123' };
const ingest: Identity = { type: 'service', account: 'svc:ingest' };
const api: Identity = { type: 'service', account: 'svc:api' };
const sim: Identity = { type: 'service', account: 'svc:sim' };
const everyone = { kit, airrohr, car, sck, ingest, api, sim };

// 'abc123' is both a valid id and the kit's token; 'sck-1' is the kit's id: neither may be borrowed.
const owners = ['kit-1', 'air-1', 'car-1', 'other-1', 'abc123', 'sck-1'];
const tokens = ['abc123', 'zzz999'];

const byOwner = (...build: Array<(id: string) => string>) => owners.flatMap((o) => build.map((b) => b(o)));
const byToken = (...build: Array<(t: string) => string>) => tokens.flatMap((t) => build.map((b) => b(t)));

/** Every concrete topic a client might try. */
const concrete = [
  ...byOwner(
    topics.sensorReadings,
    topics.sensorAirrohr,
    topics.vehicleTelemetry,
    topics.vehicleStatus,
    topics.vehicleCommands,
    topics.vehicleAck,
  ),
  ...byToken(topics.sckRaw, topics.sckJson, topics.sckHello, topics.sckInfo),
  statsTopic('ingest', 'i1'),
  statsTopic('broker', 'b1'),
  '$SYS/citytel/ingest/i1/stats',
  'citytel/broker/b1/stats',
  '$SYS/foo',
  '$SYS/citytel/ingest/i1/stats/x',
  'sensors/kit-1',
  'sensors/kit-1/readings/extra',
  'kit-1/readings',
  'device/sck/abc123/readings/raw/x',
  'device/sck/ABC123/readings',
  'device/sck/abc123',
  'vehicles/car-1/commands/ack/x',
  'vehicles/car-1',
  'anything',
];

const wildcards = [
  '#',
  '+',
  '+/+/+',
  'sensors/#',
  'sensors/+/+',
  'sensors/+/readings',
  'sensors/+/airrohr',
  'vehicles/#',
  'vehicles/+/commands',
  'vehicles/+/commands/ack',
  'vehicles/+/commands/+',
  'vehicles/+/status',
  'vehicles/+/telemetry',
  'vehicles/car-1/#',
  'vehicles/car-1/+',
  'vehicles/car-1/commands/#',
  'device/sck/#',
  'device/sck/+/+',
  'device/sck/+/readings/raw',
  'device/sck/+/readings',
  'device/sck/+/hello',
  'device/sck/+/info',
  'device/sck/abc123/#',
  ...STATS_SUBSCRIPTIONS,
  'citytel/#',
  'citytel/+/+/stats',
  '$SYS/citytel/+/+/stats',
  '$SYS/#',
  '$SYS/citytel/+/+/+',
  '$SYS/citytel/#',
];

const allowedPublish = (who: Identity) =>
  concrete.filter((topic) => checkPublish(who, { topic, payloadBytes: 10, retain: false }).ok);
const allowedSubscribe = (who: Identity) =>
  [...concrete, ...wildcards].filter((f) => checkSubscribe(who, f).ok);

describe('publish', () => {
  it('a native or airrohr kit publishes its readings and airrohr bodies under its own id only', () => {
    expect(allowedPublish(kit)).toEqual(['sensors/kit-1/readings', 'sensors/kit-1/airrohr']);
    expect(allowedPublish(airrohr)).toEqual(['sensors/air-1/readings', 'sensors/air-1/airrohr']);
  });

  it('a vehicle publishes its telemetry, status and command acks only', () => {
    expect(allowedPublish(car)).toEqual([
      'vehicles/car-1/telemetry',
      'vehicles/car-1/status',
      'vehicles/car-1/commands/ack',
    ]);
  });

  it('a Smart Citizen kit publishes under device/sck/{its token}/ only', () => {
    expect(allowedPublish(sck)).toEqual([
      'device/sck/abc123/readings/raw',
      'device/sck/abc123/readings',
      'device/sck/abc123/hello',
      'device/sck/abc123/info',
    ]);
  });

  it('ingest publishes only its own stats, and for one release under their former $SYS/ topic', () => {
    expect(allowedPublish(ingest)).toEqual(['citytel/ingest/i1/stats', '$SYS/citytel/ingest/i1/stats']);
  });

  it('the api publishes commands to any car and airrohr bodies for any kit', () => {
    expect(allowedPublish(api)).toEqual(byOwner(topics.sensorAirrohr, topics.vehicleCommands));
  });

  it('the simulator publishes kit readings, airrohr bodies, car telemetry and status', () => {
    expect(allowedPublish(sim)).toEqual(
      byOwner(topics.sensorReadings, topics.sensorAirrohr, topics.vehicleTelemetry, topics.vehicleStatus),
    );
  });

  it('nobody but ingest publishes under $SYS/', () => {
    for (const who of Object.values(everyone)) {
      const sys = allowedPublish(who).filter((t) => t.startsWith('$'));
      expect(sys).toEqual(who === ingest ? ['$SYS/citytel/ingest/i1/stats'] : []);
    }
  });

  it('refuses a denied topic as publish_denied', () => {
    expect(checkPublish(kit, { topic: 'sensors/other-1/readings', payloadBytes: 10, retain: false })).toEqual(
      {
        ok: false,
        reason: 'publish_denied',
      },
    );
  });

  it('accepts 64 KiB of payload and refuses one byte more', () => {
    const topic = 'sensors/kit-1/readings';
    expect(checkPublish(kit, { topic, payloadBytes: MAX_PAYLOAD_BYTES, retain: false }).ok).toBe(true);
    expect(checkPublish(kit, { topic, payloadBytes: MAX_PAYLOAD_BYTES + 1, retain: false })).toEqual({
      ok: false,
      reason: 'payload_too_large',
    });
    // the topic decides first: a large message to a foreign topic is a denied topic
    expect(
      checkPublish(kit, { topic: 'sensors/x/readings', payloadBytes: MAX_PAYLOAD_BYTES + 1, retain: false }),
    ).toEqual({ ok: false, reason: 'publish_denied' });
    expect(
      checkPublish(ingest, {
        topic: statsTopic('ingest', 'i1'),
        payloadBytes: MAX_PAYLOAD_BYTES + 1,
        retain: false,
      }),
    ).toEqual({ ok: false, reason: 'payload_too_large' });
  });

  it('keeps the retain flag only on a vehicle status and on ingest figures', () => {
    const retained = Object.values(everyone).flatMap((who) =>
      concrete.filter((topic) => {
        const v = checkPublish(who, { topic, payloadBytes: 10, retain: true });
        return v.ok && v.retain;
      }),
    );
    expect([...new Set(retained)].sort()).toEqual(
      [...byOwner(topics.vehicleStatus), statsTopic('ingest', 'i1'), '$SYS/citytel/ingest/i1/stats'].sort(),
    );
    expect(checkPublish(car, { topic: 'vehicles/car-1/status', payloadBytes: 10, retain: true })).toEqual({
      ok: true,
      retain: true,
      stamp: false,
    });
    expect(checkPublish(car, { topic: 'vehicles/car-1/status', payloadBytes: 10, retain: false })).toEqual({
      ok: true,
      retain: false,
      stamp: false,
    });
    expect(checkPublish(car, { topic: 'vehicles/car-1/telemetry', payloadBytes: 10, retain: true })).toEqual({
      ok: true,
      retain: false,
      stamp: true,
    });
  });

  it('stamps device data, not status, acks, commands, hello, info or stats', () => {
    const stamped = Object.values(everyone).flatMap((who) =>
      concrete.filter((topic) => {
        const v = checkPublish(who, { topic, payloadBytes: 10, retain: false });
        return v.ok && v.stamp;
      }),
    );
    expect([...new Set(stamped)].sort()).toEqual(
      [
        ...byOwner(topics.sensorReadings, topics.sensorAirrohr, topics.vehicleTelemetry),
        topics.sckRaw('abc123'),
        topics.sckJson('abc123'),
      ].sort(),
    );
  });
});

describe('subscribe', () => {
  it('kits, Smart Citizen kits and the simulator subscribe to nothing', () => {
    for (const who of [kit, airrohr, sck, sim]) expect(allowedSubscribe(who)).toEqual([]);
  });

  it('a vehicle subscribes to its own command topic only, without wildcards', () => {
    expect(allowedSubscribe(car)).toEqual(['vehicles/car-1/commands']);
  });

  it('ingest subscribes to the device data patterns and exact topics under them', () => {
    expect(allowedSubscribe(ingest)).toEqual([
      ...byOwner(
        topics.sensorReadings,
        topics.sensorAirrohr,
        topics.vehicleTelemetry,
        topics.vehicleStatus,
      ).sort((a, b) => concrete.indexOf(a) - concrete.indexOf(b)),
      ...byToken(topics.sckRaw, topics.sckJson, topics.sckHello, topics.sckInfo),
      ...wildcards.filter((w) => (INGEST_SUBSCRIPTIONS as readonly string[]).includes(w)),
    ]);
    expect(wildcards.filter((w) => checkSubscribe(ingest, w).ok).sort()).toEqual(
      [...INGEST_SUBSCRIPTIONS].sort(),
    );
  });

  it('the api subscribes to acks, status, telemetry, readings and stats', () => {
    expect(allowedSubscribe(api)).toEqual([
      ...byOwner(
        topics.sensorReadings,
        topics.sensorAirrohr,
        topics.vehicleTelemetry,
        topics.vehicleStatus,
        topics.vehicleAck,
      ).sort((a, b) => concrete.indexOf(a) - concrete.indexOf(b)),
      ...byToken(topics.sckRaw, topics.sckJson),
      statsTopic('ingest', 'i1'),
      statsTopic('broker', 'b1'),
      '$SYS/citytel/ingest/i1/stats',
      'sensors/+/readings',
      'sensors/+/airrohr',
      'vehicles/+/commands/ack',
      'vehicles/+/status',
      'vehicles/+/telemetry',
      'device/sck/+/readings/raw',
      'device/sck/+/readings',
      ...STATS_SUBSCRIPTIONS,
      '$SYS/citytel/+/+/stats',
    ]);
  });

  it('refuses as subscribe_denied', () => {
    expect(checkSubscribe(car, 'vehicles/+/commands')).toEqual({ ok: false, reason: 'subscribe_denied' });
  });
});

describe('covers', () => {
  it('grants a filter only when the pattern matches everything it matches', () => {
    expect(covers('a/+/c', 'a/+/c')).toBe(true);
    expect(covers('a/+/c', 'a/b/c')).toBe(true);
    expect(covers('a/+/c', 'a/#')).toBe(false);
    expect(covers('a/+/c', 'a/b/#')).toBe(false);
    expect(covers('a/+/c', 'a/+/+')).toBe(false);
    expect(covers('a/+/c', 'a/b+/c')).toBe(false);
    expect(covers('a/+/c', 'a/b/c/d')).toBe(false);
    expect(covers('a/b/c', 'a/+/c')).toBe(false);
  });
});

describe('offline unlock topics', () => {
  const pub = (who: Identity, topic: string, retain = false) =>
    checkPublish(who, { topic, payloadBytes: 10, retain });
  it('the api publishes (retained) booking lists to any car; a car reads only its own', () => {
    expect(pub(api, 'vehicles/car-1/bookings', true)).toMatchObject({ ok: true, retain: true });
    expect(pub(car, 'vehicles/car-1/bookings').ok).toBe(false);
    expect(pub(sim, 'vehicles/car-1/bookings').ok).toBe(false);
    expect(checkSubscribe(car, 'vehicles/car-1/bookings')).toEqual({ ok: true });
    expect(checkSubscribe(car, 'vehicles/other-1/bookings').ok).toBe(false);
    expect(checkSubscribe(car, 'vehicles/+/bookings').ok).toBe(false);
  });
  it('a car uploads its own log only; the api reads every log', () => {
    expect(pub(car, 'vehicles/car-1/log')).toMatchObject({ ok: true, retain: false });
    expect(pub(car, 'vehicles/other-1/log').ok).toBe(false);
    expect(pub(car, 'vehicles/car-1/log', true)).toMatchObject({ ok: true, retain: false });
    expect(checkSubscribe(api, 'vehicles/+/log')).toEqual({ ok: true });
    expect(checkSubscribe(car, 'vehicles/+/log').ok).toBe(false);
  });
});
