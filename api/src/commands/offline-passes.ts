import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import {
  type BookingList,
  offlineLogSchema,
  parseJson,
  parseTopic,
  type SignedBookings,
  topics,
  unstamp,
} from '@citytel/contract';
import type { Store } from '@citytel/store';
import type { FastifyBaseLogger as Logger } from 'fastify';
import { Counter } from '../prom.ts';
import type { CarsharingSettings } from './config.ts';
import type { TrackerMqtt } from './tracker.ts';

export const LOG_SUBSCRIPTION = 'vehicles/+/log';
const MAX_PASSES = 500;

export interface OfflinePassDeps {
  store: Pick<Store, 'bookings' | 'devices' | 'fleet' | 'offlineEvents'>;
  mqtt: TrackerMqtt | undefined;
  settings: Pick<CarsharingSettings, 'BOOKING_GRACE_S' | 'OFFLINE_WINDOW_H' | 'OFFLINE_REFRESH_S'>;
  log: Logger;
}

/**
 * Offline unlock, the platform's half (CONTRACT §3): each car gets, retained on `vehicles/{id}/bookings`, the
 * list of its bookings overlapping the next OFFLINE_WINDOW_H hours with each member's credential hash, signed
 * with the installation's Ed25519 key (made once, kept in the store, the same for every api instance). The
 * list is sent again whenever one of its bookings is made, cancelled or returned, and every
 * OFFLINE_REFRESH_S for all cars so the window rolls on. What cars did offline comes back on
 * `vehicles/{id}/log` and is stored once per (car, the car's sequence number), with the car's times.
 */
export function createOfflinePasses(deps: OfflinePassDeps) {
  const { store, settings } = deps;
  const log = deps.log.child({ component: 'offline-unlock' });
  const published = new Counter(
    'citytel_api_booking_lists_published_total',
    'Signed booking lists sent to cars',
  );
  const logged = new Counter(
    'citytel_api_offline_events_total',
    'Offline events uploaded by cars, by outcome: stored (new) or duplicate (already stored) or invalid',
  );
  const lastSeq = new Map<string, number>();
  let keys: Promise<{ privateKey: KeyObject; publicKeyPem: string }> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;

  const signingKeys = () => {
    keys ??= store.fleet
      .installValue('booking_signing_key', () =>
        generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      )
      .then((pem) => {
        const privateKey = createPrivateKey(pem);
        const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
        return { privateKey, publicKeyPem };
      });
    keys.catch(() => {
      keys = undefined;
    });
    return keys;
  };

  async function listFor(vehicleId: string, now: Date): Promise<BookingList> {
    const until = new Date(now.getTime() + settings.OFFLINE_WINDOW_H * 3600_000);
    const bookings = await store.bookings.list({
      vehicleId,
      from: now,
      to: until,
      includeCancelled: true,
      limit: MAX_PASSES,
    });
    const seq = Math.max(now.getTime(), (lastSeq.get(vehicleId) ?? 0) + 1);
    lastSeq.set(vehicleId, seq);
    return {
      vehicleId,
      seq,
      issuedAt: now.toISOString(),
      until: until.toISOString(),
      graceS: settings.BOOKING_GRACE_S,
      passes: bookings
        .filter((b) => !b.cancelledAt && b.credentialHash)
        .map((b) => ({
          bookingId: b.id,
          credential: b.credentialHash!,
          start: b.start.toISOString(),
          end: b.end.toISOString(),
        })),
      cancelled: bookings
        .filter((b) => b.cancelledAt)
        .map((b) =>
          b.credentialHash ? { bookingId: b.id, credential: b.credentialHash } : { bookingId: b.id },
        ),
    };
  }

  async function publishFor(vehicleId: string): Promise<void> {
    const mqtt = deps.mqtt;
    if (!mqtt?.connected) return;
    const list = await listFor(vehicleId, new Date());
    const { privateKey } = await signingKeys();
    const body = Buffer.from(JSON.stringify(list), 'utf8');
    const wire: SignedBookings = {
      body: body.toString('base64url'),
      sig: sign(null, body, privateKey).toString('base64url'),
    };
    await mqtt.publish(topics.vehicleBookings(vehicleId), JSON.stringify(wire), { qos: 1, retain: true });
    published.inc({});
    log.debug({ vehicle: vehicleId, seq: list.seq, passes: list.passes.length }, 'booking list sent');
  }

  async function refreshAll(): Promise<void> {
    for (const d of await store.devices.list({ kind: 'vehicle' })) {
      await publishFor(d.id).catch((err) =>
        log.warn({ err, vehicle: d.id }, 'could not send a booking list'),
      );
    }
  }

  async function onLog(topic: string, payload: Buffer): Promise<void> {
    const t = parseTopic(topic);
    if (t?.kind !== 'vehicle-log') return;
    const json = parseJson(unstamp(payload).payload.toString());
    const parsed = json.ok ? offlineLogSchema.safeParse(json.value) : undefined;
    if (!parsed?.success) {
      logged.inc({ outcome: 'invalid' });
      log.warn({ vehicle: t.owner }, 'unreadable offline log ignored');
      return;
    }
    const receivedAt = new Date();
    const events = parsed.data.events.map((e) => ({
      vehicleId: t.owner,
      seq: e.seq,
      at: new Date(e.ts),
      event: e.event,
      bookingId: e.bookingId ?? null,
      reason: e.reason ?? null,
      receivedAt,
    }));
    const added = await store.offlineEvents.add(events);
    logged.inc({ outcome: 'stored' }, added);
    logged.inc({ outcome: 'duplicate' }, events.length - added);
    log.info({ vehicle: t.owner, events: events.length, stored: added }, 'offline log received');
  }

  return {
    published,
    logged,
    publishFor,
    refreshAll,
    async publicKeyPem(): Promise<string> {
      return (await signingKeys()).publicKeyPem;
    },
    start(): void {
      unsubscribe = deps.mqtt?.subscribe(
        LOG_SUBSCRIPTION,
        (t, p) => void onLog(t, p).catch((err) => log.error({ err }, 'could not store an offline log')),
        { qos: 1 },
      );
      void refreshAll().catch((err) => log.warn({ err }, 'could not send the booking lists'));
      timer = setInterval(
        () => void refreshAll().catch((err) => log.warn({ err }, 'could not send the booking lists')),
        settings.OFFLINE_REFRESH_S * 1000,
      );
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
      unsubscribe?.();
    },
  };
}

export type OfflinePasses = ReturnType<typeof createOfflinePasses>;
