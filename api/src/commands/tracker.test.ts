import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandMessageSchema } from '@citytel/contract';
import { type Command, openStore, type Store } from '@citytel/store';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandSignal } from './signal.ts';
import { CommandTracker, type TrackerMqtt } from './tracker.ts';

const log = pino({ level: 'silent' });
const ack = (o: Record<string, unknown>) => Buffer.from(JSON.stringify(o));

/** The publish side of the api's MQTT wrapper, recording what it is asked to send. */
function recordingMqtt(behaviour: 'ok' | 'timeout' | 'down' = 'ok') {
  const published: Array<{ topic: string; payload: string }> = [];
  const mqtt: TrackerMqtt = {
    connected: behaviour !== 'down',
    async publish(topic, payload) {
      if (behaviour === 'timeout') throw new Error('the broker did not acknowledge within 5000 ms');
      published.push({ topic, payload });
    },
    subscribe: () => () => {},
  };
  return { mqtt, published };
}

describe('the command tracker', () => {
  let dir: string;
  let store: Store;
  const trackers: CommandTracker[] = [];
  const tracker = (
    mqtt?: TrackerMqtt,
    o: { ackGraceMs?: number; waitPollMs?: number; signal?: CommandSignal } = {},
  ) => {
    const t = new CommandTracker({ store, mqtt, log, sweepMs: 60_000, ackGraceMs: o.ackGraceMs ?? 0, ...o });
    trackers.push(t);
    return t;
  };
  let n = 0;
  const pending = async (over: { ttlMs?: number; vehicleId?: string } = {}): Promise<Command> => {
    const now = new Date();
    return (
      await store.commands.create({
        vehicleId: over.vehicleId ?? 'car-1',
        operatorId: 'coop',
        requestedBy: 'coop',
        bookingId: 'bk_1',
        action: 'unlock',
        issuedAt: now,
        expiresAt: new Date(now.getTime() + (over.ttlMs ?? 30_000)),
        idempotencyKey: `k-${++n}`,
        requestHash: 'h',
      })
    ).command;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'citytel-tracker-'));
    store = await openStore({ dataDir: dir });
  });
  afterEach(async () => {
    for (const t of trackers.splice(0)) await t.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes the contract message at QoS 1 and records sent', async () => {
    const { mqtt, published } = recordingMqtt();
    const c = await pending();
    const sent = await tracker(mqtt).send(c);
    expect(sent.history.map((h) => h.state)).toEqual(['pending', 'sent']);
    expect(published.map((p) => p.topic)).toEqual(['vehicles/car-1/commands']);
    expect(commandMessageSchema.parse(JSON.parse(published[0]!.payload))).toEqual({
      id: c.id,
      action: 'unlock',
      bookingId: 'bk_1',
      issuedAt: c.issuedAt.toISOString(),
      expiresAt: c.expiresAt.toISOString(),
    });
  });

  it('fails a command at once without a broker, and leaves it pending when the broker may have it', async () => {
    const failed = await tracker(recordingMqtt('down').mqtt).send(await pending());
    expect([failed.state, failed.reason]).toEqual(['failed', 'mqtt_unavailable']);
    const unsure = await tracker(recordingMqtt('timeout').mqtt).send(await pending());
    expect(unsure.state).toBe('pending');
  });

  it("applies the car's answer once and ignores, by reason, what it cannot use", async () => {
    const t = tracker();
    const c = await pending();
    expect(await t.applyAck('car-1', Buffer.from('nope'))).toBe('invalid');
    expect(await t.applyAck('car-1', ack({ id: 'cmd_NOSUCHCOMMAND1', status: 'done' }))).toBe('unknown');
    expect(await t.applyAck('car-2', ack({ id: c.id, status: 'done' }))).toBe('unknown');
    expect(await t.applyAck('car-1', ack({ id: c.id, status: 'rejected', reason: 'doors_open' }))).toBe(
      'applied',
    );
    expect(await t.applyAck('car-1', ack({ id: c.id, status: 'done' }))).toBe('finished');
    const now = await store.commands.get(c.id);
    expect([now?.state, now?.reason]).toEqual(['rejected', 'doors_open']);
    expect(t.ignoredAcks.render()).toContain('citytel_api_command_acks_ignored_total{reason="unknown"} 2');
    expect(t.ignoredAcks.get({ reason: 'invalid' })).toBe(1);
    expect(t.ignoredAcks.get({ reason: 'finished' })).toBe(1);
    expect(t.finished.get({ action: 'unlock', state: 'rejected' })).toBe(1);
  });

  it('wakes a waiting request when the answer comes, and answers the current state when the wait runs out', async () => {
    const t = tracker();
    const c = await pending();
    const t0 = Date.now();
    const waiting = t.waitEnd(c, 5000);
    setTimeout(() => void t.applyAck('car-1', ack({ id: c.id, status: 'done' })), 100);
    expect((await waiting).state).toBe('done');
    expect(Date.now() - t0).toBeLessThan(1000);
    const other = await pending();
    expect((await t.waitEnd(other, 150)).state).toBe('pending');
  });

  it('hears of an answer another api instance applied', async () => {
    const here = tracker(undefined, { waitPollMs: 100 });
    const there = tracker();
    const c = await pending();
    const waiting = here.waitEnd(c, 5000);
    setTimeout(() => void there.applyAck('car-1', ack({ id: c.id, status: 'done' })), 100);
    const t0 = Date.now();
    expect((await waiting).state).toBe('done');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(here.finished.get({ action: 'unlock', state: 'done' })).toBe(0);
    expect(there.finished.get({ action: 'unlock', state: 'done' })).toBe(1);
  });

  it('ends a wait at once when the signal says another instance ended the command', async () => {
    // The in-process shape of the Redis channel (signal.ts; the real one is in test/api-cluster.test.ts).
    const listeners = new Set<(id: string) => void>();
    const sent: string[] = [];
    const bus = (): CommandSignal => {
      let mine: ((id: string) => void) | undefined;
      return {
        publish: (c) => {
          sent.push(`${c.id} ${c.state}`);
          for (const l of listeners) l(c.id);
        },
        start: async (onChange) => {
          mine = onChange;
          listeners.add(onChange);
        },
        stop: async () => {
          if (mine) listeners.delete(mine);
        },
      };
    };
    // Its own re-read a minute away: only the signal can end the wait within the test.
    const here = tracker(undefined, { waitPollMs: 60_000, signal: bus() });
    const there = tracker(undefined, { signal: bus() });
    await here.start();
    await there.start();
    const c = await pending();
    const waiting = here.waitEnd(c, 5000);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await there.applyAck('car-1', ack({ id: c.id, status: 'done' }));
    expect((await waiting).state).toBe('done');
    expect(Date.now() - t0).toBeLessThan(200);
    expect(sent).toEqual([`${c.id} done`]);
  });

  it('expires what it sent at expiresAt plus the ack grace, recorded at expiresAt', async () => {
    const { mqtt } = recordingMqtt();
    const t = tracker(mqtt, { ackGraceMs: 200 });
    const c = await t.send(await pending({ ttlMs: 300 }));
    const ended = await t.waitEnd(c, 3000);
    expect([ended.state, ended.reason]).toEqual(['expired', 'no_answer']);
    expect(ended.history.at(-1)?.at).toEqual(c.expiresAt);
    expect(Date.now()).toBeGreaterThanOrEqual(c.expiresAt.getTime() + 200);
  });

  it('expires by the sweep what another instance sent before it stopped', async () => {
    const gone = tracker(recordingMqtt().mqtt);
    const c = await gone.send(await pending({ ttlMs: 50 }));
    await gone.stop();
    const sweeper = tracker();
    await new Promise((r) => setTimeout(r, 100));
    await sweeper.sweep();
    expect((await store.commands.get(c.id))?.history.map((h) => h.state)).toEqual([
      'pending',
      'sent',
      'expired',
    ]);
    expect(sweeper.finished.get({ action: 'unlock', state: 'expired' })).toBe(1);
  });
});
