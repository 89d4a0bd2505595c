import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type OfflineLogEvent, topics } from '@citytel/contract';
import { deriveServiceSecret } from '@citytel/store';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stationPosition } from '../firmware-sim/src/city.ts';
import { createSimulator, simConfig } from '../firmware-sim/src/index.ts';
import { isUnderground } from '../firmware-sim/src/vehicles/fleet-setup.ts';
import type { Vehicle } from '../firmware-sim/src/vehicles/obu.ts';
import { cardCredential } from '../firmware-sim/src/vehicles/offline.ts';
import { type CarsharingStack, startCarsharingStack, waitFor } from './helpers/carsharing-stack.ts';

/**
 * Offline unlock end to end: the api sends the car its bookings signed with Ed25519 (retained), the
 * simulated unit parks underground (its uplink cut) and members tap their cards. It opens for the right card
 * inside the booking and refuses a wrong card, a cancelled booking (it heard of), an expired one and a
 * replayed older list; back online, its log lands in the audit trail once, with the times the car recorded.
 */

const MIN = 60_000;
let stack: CarsharingStack;
let car: Vehicle;
let watcher: MqttClient;
let platform: MqttClient;
const lists: string[] = [];
let alice: { id: string; end: string };
let carol: { id: string };

const seqOf = (wire: string) =>
  JSON.parse(Buffer.from(JSON.parse(wire).body, 'base64url').toString()).seq as number;

async function book(memberId: string, card: string, fromMs: number, toMs: number) {
  const now = Date.now();
  const r = await stack.http('POST', '/api/v1/bookings', {
    token: stack.operator.token,
    body: {
      vehicleId: car.id,
      memberId,
      start: new Date(now + fromMs).toISOString(),
      end: new Date(now + toMs).toISOString(),
      credential: cardCredential(card),
    },
  });
  expect(r.status).toBe(201);
  return r.body;
}

const auditTrail = async () =>
  (await stack.http('GET', `/api/v1/vehicles/${car.id}/offline-log`, { token: stack.operator.token })).body
    .events as Array<{
    seq: number;
    at: string;
    event: string;
    bookingId: string | null;
    reason: string | null;
    receivedAt: string;
  }>;

beforeAll(async () => {
  stack = await startCarsharingStack({
    vehicles: 3,
    seed: 42,
    env: { BOOKING_GRACE_S: '1', AUTO_LOCK_AFTER_S: '0' },
  });
  car = stack.sim.vehicles.find((v) => v.car.state.phase === 'parked')!;
  await waitFor('the car online', () => car.online);
  const state = JSON.parse(readFileSync(join(stack.dir, 'sim-devices.json'), 'utf8'));
  // A second login of the car itself (another client id) sees what the broker gives it.
  watcher = await mqtt.connectAsync(stack.mqttUrl, {
    username: car.id,
    password: state.devices[car.id].secret,
    clientId: `${car.id}/watch`,
    reconnectPeriod: 0,
  });
  await watcher.subscribeAsync(topics.vehicleBookings(car.id), { qos: 1 });
  watcher.on('message', (_t, p) => lists.push(p.toString()));
  platform = await mqtt.connectAsync(stack.mqttUrl, {
    username: 'svc:api',
    password: deriveServiceSecret(stack.serviceSecret, 'svc:api'),
    clientId: 'svc:api/test-replayer',
    reconnectPeriod: 0,
  });
});

afterAll(async () => {
  await watcher?.endAsync();
  await platform?.endAsync();
  await stack?.close();
});

describe('offline unlock', () => {
  it('sends the car its upcoming bookings, signed; the car takes only newer lists signed by the platform', async () => {
    alice = await book('alice', 'ALICE', -MIN, 8000);
    carol = await book('carol', 'CAROL', 8000, 60 * MIN);
    const withCarol = await waitFor('the list with both bookings', () => {
      const l = lists.at(-1);
      return l && JSON.parse(Buffer.from(JSON.parse(l).body, 'base64url').toString()).passes.length === 2
        ? l
        : undefined;
    });
    const key = await stack.http('GET', '/api/v1/carsharing/signing-key');
    expect(key.body.alg).toBe('Ed25519');

    await stack.http('DELETE', `/api/v1/bookings/${carol.id}`, { token: stack.operator.token });
    const afterCancel = await waitFor('the list without Carol', () => {
      const l = lists.at(-1);
      return l && seqOf(l) > seqOf(withCarol) ? l : undefined;
    });
    await waitFor('the car has the newest list', () => car.passes.listSeq === seqOf(afterCancel));

    // The older list (Carol still in it), replayed: ignored.
    await platform.publishAsync(topics.vehicleBookings(car.id), withCarol, { qos: 1 });
    await waitFor('the replay delivered', () => lists.length >= 3 && lists.at(-1) === withCarol);
    expect(car.passes.listSeq).toBe(seqOf(afterCancel));
    await platform.publishAsync(topics.vehicleBookings(car.id), afterCancel, { qos: 1, retain: true });

    // A list signed by anyone else is refused.
    const forger = generateKeyPairSync('ed25519').privateKey;
    const body = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(JSON.parse(withCarol).body, 'base64url').toString()),
        seq: Date.now() + 1e9,
      }),
    );
    const forged = JSON.stringify({
      body: body.toString('base64url'),
      sig: sign(null, body, forger).toString('base64url'),
    });
    expect(car.passes.accept(forged)).toBe('invalid');
  });

  it('with the uplink cut, opens for the right card in its booking and refuses the others', async () => {
    car.goOffline();
    await waitFor('the car offline in the api', async () => {
      const r = await stack.http('GET', '/api/v1/vehicles', { token: stack.operator.token });
      return r.body.vehicles.find((v: { id: string }) => v.id === car.id)?.online === false;
    });
    expect(car.locked).toBe(true);
    expect(await car.tapCard('MALLORY')).toEqual({ open: false, reason: 'unknown_credential' });
    expect(await car.tapCard('CAROL')).toEqual({ open: false, reason: 'cancelled', bookingId: carol.id });
    expect(car.locked).toBe(true);
    expect(await car.tapCard('ALICE')).toEqual({ open: true, bookingId: alice.id });
    expect(car.locked).toBe(false);
    car.car.state.locked = true; // Alice locks it at the end of her trip.
    await new Promise((r) => setTimeout(r, Date.parse(alice.end) - Date.now() + 100));
    expect(await car.tapCard('ALICE')).toEqual({ open: false, reason: 'expired', bookingId: alice.id });
    expect(car.locked).toBe(true);
    expect(car.passes.pending.length).toBe(4);
    expect(await auditTrail()).toEqual([]);
  });

  it('uploads its log when back, into the audit trail exactly once with its own times', async () => {
    const recorded: OfflineLogEvent[] = car.passes.pending.map((e) => ({ ...e }));
    const back = Date.now();
    car.comeBack();
    const trail = await waitFor('the log in the audit trail', async () => {
      const t = await auditTrail();
      return t.length === 4 ? t : undefined;
    });
    expect(car.passes.pending).toEqual([]);
    const bySeq = [...trail].sort((a, b) => a.seq - b.seq);
    expect(bySeq.map((e) => [e.event, e.reason, e.bookingId])).toEqual([
      ['refused', 'unknown_credential', null],
      ['refused', 'cancelled', carol.id],
      ['opened', null, alice.id],
      ['refused', 'expired', alice.id],
    ]);
    bySeq.forEach((e, i) => {
      expect(e.at).toBe(recorded[i]!.ts);
      expect(Date.parse(e.at)).toBeLessThan(back);
      expect(Date.parse(e.receivedAt)).toBeGreaterThanOrEqual(back);
    });

    // The same log uploaded again (a QoS 1 redelivery, a unit that lost the PUBACK): stored once.
    await watcher.publishAsync(topics.vehicleLog(car.id), JSON.stringify({ events: recorded }), { qos: 1 });
    await waitFor('the duplicate counted', async () => {
      const text = await (await fetch(`${stack.baseUrl}/metrics`)).text();
      return text.includes('citytel_api_offline_events_total{outcome="duplicate"} 4');
    });
    expect((await auditTrail()).length).toBe(4);
  });

  it('parks underground by itself: offline after reporting where it parked, opens for the card, uploads on the way out', async () => {
    const before = (await auditTrail()).length;
    const dave = await book('dave', 'DAVE', 0, 30 * MIN); // Alice's ended a moment ago
    await waitFor('the car holds Dave’s booking', () => car.passes.holds(dave.id));
    const city = stack.sim.config.city;
    const under = city.stations.find((s) => isUnderground(city, s.id) && s.id !== car.car.state.station)!;
    const parkedAt = Date.now();
    car.driveTo(under.id);
    // The trip itself, fast-forwarded on the car's own model; the unit notices the arrival at its next tick.
    car.car.advance(Date.now() + 3_600_000);
    expect(car.car.state).toMatchObject({ phase: 'parked', station: under.id, locked: true });
    const seen = await waitFor('the car offline in the fleet view, parked underground', async () => {
      const r = await stack.http('GET', '/api/v1/vehicles', { token: stack.operator.token });
      const v = r.body.vehicles.find((x: { id: string }) => x.id === car.id);
      return v?.online === false && Date.parse(v.telemetryAt) >= parkedAt - 1000 ? v : undefined;
    });
    expect(car.online).toBe(false);
    // Its last report before the ramp: at the station.
    const p = stationPosition(city, under.id);
    expect(seen.position.lat).toBeCloseTo(p.lat, 5);
    expect(seen.position.lon).toBeCloseTo(p.lon, 5);

    expect(await car.tapCard('EVE')).toEqual({ open: false, reason: 'unknown_credential' });
    expect(await car.tapCard('DAVE')).toEqual({ open: true, bookingId: dave.id });
    expect(car.locked).toBe(false);
    const recorded = car.passes.pending.map((e) => ({ ...e }));
    expect(recorded).toHaveLength(2);
    expect(await auditTrail()).toHaveLength(before);

    // Dave drives out: the uplink is back in the same session and the log goes up, once.
    const back = Date.now();
    car.driveTo(city.stations.find((s) => !isUnderground(city, s.id))!.id);
    const trail = await waitFor('the underground log in the audit trail', async () => {
      const t = await auditTrail();
      return t.length === before + 2 ? t : undefined;
    });
    expect(car.online).toBe(true);
    expect(car.passes.pending).toEqual([]);
    const mine = trail.filter((e) => recorded.some((r) => r.seq === e.seq)).sort((a, b) => a.seq - b.seq);
    expect(mine.map((e) => [e.event, e.reason, e.bookingId])).toEqual([
      ['refused', 'unknown_credential', null],
      ['opened', null, dave.id],
    ]);
    mine.forEach((e, i) => {
      expect(e.at).toBe(recorded[i]!.ts);
      expect(Date.parse(e.receivedAt)).toBeGreaterThanOrEqual(back);
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(await auditTrail()).toHaveLength(before + 2);
  });

  it('plays members: cars parking underground on their own trips open offline for the booked card, the log goes up', async () => {
    // A second simulator on the same platform, its cars driving on their own, a day in 2.4 minutes.
    const sim = createSimulator(
      simConfig({
        kits: 0,
        vehicles: 2,
        vehicleIntervalS: 30,
        speedup: 600,
        seed: 11,
        prefix: 'members',
        apiUrl: stack.baseUrl,
        mqttUrl: stack.mqttUrl,
        adminToken: stack.operator.token,
        stateFile: join(stack.dir, 'members-devices.json'),
        autoTrips: true,
      }),
      { log: stack.log },
    );
    try {
      await sim.start();
      const trails = async () =>
        Promise.all(
          sim.vehicles.map(
            async (v) =>
              (
                await stack.http('GET', `/api/v1/vehicles/${v.id}/offline-log`, {
                  token: stack.operator.token,
                })
              ).body.events as Array<{ seq: number; event: string; bookingId: string | null; at: string }>,
          ),
        );
      const opened = await waitFor(
        'a member’s offline opening in the audit trail',
        async () => (await trails()).flat().find((e) => e.event === 'opened'),
        90_000,
      );
      const booking = await stack.http('GET', `/api/v1/bookings/${opened.bookingId}`, {
        token: stack.operator.token,
      });
      expect(booking.body.memberId).toMatch(/^member-sim/);
      for (const t of await trails()) expect(new Set(t.map((e) => e.seq)).size).toBe(t.length);
    } finally {
      await sim.stop();
    }
  }, 120_000);
});
