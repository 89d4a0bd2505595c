import { describe, expect, it } from 'vitest';
import { createSessionStore } from './session-store.ts';

interface Store {
  outgoingEnqueue(sub: object, packet: object): Promise<void>;
  outgoingEnqueueCombi(subs: object[], packet: object): Promise<void>;
  outgoingUpdate(client: object, packet: object): Promise<void>;
  outgoingClearMessageId(client: object, packet: object): Promise<Record<string, unknown> | undefined>;
  outgoingStream(client: object): AsyncIterable<Record<string, unknown>>;
}

const client = { id: 'svc:ingest' };
const publish = (n: number) => ({
  cmd: 'publish',
  topic: `t/${n}`,
  payload: Buffer.from(String(n)),
  qos: 1,
  brokerId: 'b1',
  brokerCounter: n,
});
async function queued(store: Store) {
  const out: Array<[unknown, unknown]> = [];
  for await (const p of store.outgoingStream(client)) out.push([p.topic, p.messageId]);
  return out;
}

describe('indexed session store', () => {
  it('numbers, acknowledges and replays in queue order, as aedes-persistence does', async () => {
    const store = createSessionStore() as unknown as Store;
    for (const n of [1, 2, 3, 4]) await store.outgoingEnqueue({ clientId: 'svc:ingest' }, publish(n));
    expect(await queued(store)).toEqual([
      ['t/1', undefined],
      ['t/2', undefined],
      ['t/3', undefined],
      ['t/4', undefined],
    ]);
    for (const n of [1, 2, 3]) await store.outgoingUpdate(client, { ...publish(n), messageId: 100 + n });
    expect((await store.outgoingClearMessageId(client, { messageId: 102 }))?.topic).toBe('t/2');
    expect(await store.outgoingClearMessageId(client, { messageId: 102 })).toBeUndefined();
    // Renumbered on a reconnection: the old id no longer acknowledges it.
    await store.outgoingUpdate(client, { ...publish(1), messageId: 7 });
    expect(await store.outgoingClearMessageId(client, { messageId: 101 })).toBeUndefined();
    expect(await queued(store)).toEqual([
      ['t/1', 7],
      ['t/3', 103],
      ['t/4', undefined],
    ]);
    // A PUBREL takes the place of the publish it follows.
    await store.outgoingUpdate(client, { cmd: 'pubrel', messageId: 103 });
    expect((await store.outgoingClearMessageId(client, { messageId: 103 }))?.cmd).toBe('pubrel');
    // Dropped before it was numbered.
    expect((await store.outgoingClearMessageId(client, { ...publish(4) }))?.topic).toBe('t/4');
    await expect(store.outgoingUpdate(client, { ...publish(9), messageId: 9 })).rejects.toThrow(
      'no such packet',
    );
    expect(await queued(store)).toEqual([['t/1', 7]]);
  });

  it('keeps sessions apart and stays fast with many held messages', async () => {
    const store = createSessionStore() as unknown as Store;
    await store.outgoingEnqueueCombi([{ clientId: 'svc:ingest' }, { clientId: 'other' }], publish(1));
    await store.outgoingUpdate(client, { ...publish(1), messageId: 1 });
    await store.outgoingClearMessageId(client, { messageId: 1 });
    expect(await queued(store)).toEqual([]);
    const other: Array<unknown> = [];
    for await (const p of store.outgoingStream({ id: 'other' })) other.push(p.topic);
    expect(other).toEqual(['t/1']);

    const n = 50_000;
    const t0 = performance.now();
    for (let i = 1; i <= n; i++) await store.outgoingEnqueue({ clientId: 'svc:ingest' }, publish(i));
    for (let i = 1; i <= n; i++) await store.outgoingUpdate(client, { ...publish(i), messageId: i });
    for (let i = n; i >= 1; i--) await store.outgoingClearMessageId(client, { messageId: i });
    // The library's scans take minutes here (n² / 2 comparisons per step).
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(await queued(store)).toEqual([]);
  });

  it('shares one packet between sessions, each replayed with its own packet id', async () => {
    const store = createSessionStore() as unknown as Store;
    const packet = publish(5);
    await store.outgoingEnqueueCombi([{ clientId: 'svc:ingest' }, { clientId: 'other' }], packet);
    await store.outgoingUpdate(client, { ...publish(5), messageId: 11 });
    await store.outgoingUpdate({ id: 'other' }, { ...publish(5), messageId: 22 });
    expect(packet).not.toHaveProperty('messageId', 11);
    expect(await queued(store)).toEqual([['t/5', 11]]);
    const other: Array<[unknown, unknown]> = [];
    for await (const p of store.outgoingStream({ id: 'other' })) other.push([p.topic, p.messageId]);
    expect(other).toEqual([['t/5', 22]]);
    // A PUBACK of one session leaves the other's entry.
    await store.outgoingClearMessageId(client, { messageId: 11 });
    expect(await queued(store)).toEqual([]);
    expect(await store.outgoingClearMessageId({ id: 'other' }, { messageId: 11 })).toBeUndefined();
    expect((await store.outgoingClearMessageId({ id: 'other' }, { messageId: 22 }))?.topic).toBe('t/5');
  });

  it("keeps at most maxQueuedPerDevice messages of a device's session, dropping the oldest; services unbounded", async () => {
    const store = createSessionStore({ maxQueuedPerDevice: 3 }) as unknown as Store;
    for (const n of [1, 2, 3, 4, 5]) {
      await store.outgoingEnqueue({ clientId: 'car-1' }, publish(n));
      await store.outgoingEnqueue({ clientId: 'svc:api/x' }, publish(n));
    }
    const topicsOf = async (id: string) => {
      const out: unknown[] = [];
      for await (const p of store.outgoingStream({ id })) out.push(p.topic);
      return out;
    };
    expect(await topicsOf('car-1')).toEqual(['t/3', 't/4', 't/5']);
    expect(await topicsOf('svc:api/x')).toHaveLength(5);
    // the count follows acknowledgements
    await store.outgoingUpdate({ id: 'car-1' }, { ...publish(3), messageId: 7 });
    expect((await store.outgoingClearMessageId({ id: 'car-1' }, { messageId: 7 }))?.topic).toBe('t/3');
    await store.outgoingEnqueue({ clientId: 'car-1' }, publish(6));
    expect(await topicsOf('car-1')).toEqual(['t/4', 't/5', 't/6']);
  });
});
