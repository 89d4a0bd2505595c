import MQEmitter from 'mqemitter';
import { describe, expect, it } from 'vitest';
import { cacheEmitterMatches, MatchCache } from './match-cache.ts';
import { createSessionStore } from './session-store.ts';

/** The tags of the handlers the emitter's matcher finds for a topic. */
const emitted = async (mq: ReturnType<typeof MQEmitter>, topic: string) =>
  (mq as unknown as { _matcher: { match(t: string): Array<{ tag?: string }> } })._matcher
    .match(topic)
    .map((f) => f.tag ?? '?')
    .sort();

describe('topic match cache', () => {
  it('answers from the cache until a subscription is added or removed', async () => {
    const mq = MQEmitter();
    expect(cacheEmitterMatches(mq)).toBe(true);
    const handler = (tag: string) => Object.assign((_m: unknown, cb: () => void) => cb(), { tag });
    const one = handler('one');
    const two = handler('two');
    mq.on('sensors/+/readings', one);
    expect(await emitted(mq, 'sensors/kit-1/readings')).toEqual(['one']);
    mq.on('sensors/kit-1/readings', two);
    expect(await emitted(mq, 'sensors/kit-1/readings')).toEqual(['one', 'two']);
    expect(await emitted(mq, 'sensors/kit-2/readings')).toEqual(['one']);
    await new Promise<void>((r) => mq.removeListener('sensors/+/readings', one, () => r()));
    expect(await emitted(mq, 'sensors/kit-1/readings')).toEqual(['two']);
    expect(await emitted(mq, 'sensors/kit-2/readings')).toEqual([]);

    // And messages still reach the handlers through the emitter itself.
    const seen: string[] = [];
    mq.on('vehicles/+/telemetry', (m: { topic: string }, cb: () => void) => {
      seen.push(m.topic);
      cb();
    });
    await new Promise<void>((r) => mq.emit({ topic: 'vehicles/car-1/telemetry' }, () => r()));
    await new Promise<void>((r) => mq.emit({ topic: 'vehicles/car-1/telemetry' }, () => r()));
    expect(seen).toEqual(['vehicles/car-1/telemetry', 'vehicles/car-1/telemetry']);
  });

  it('starts over past its limit and drops an answer computed before a change', () => {
    const cache = new MatchCache<number>(2);
    let computed = 0;
    const compute = () => ++computed;
    cache.get('a', compute);
    cache.get('b', compute);
    expect(cache.get('a', compute)).toBe(1);
    cache.get('c', compute); // third topic: the cache starts over
    expect(cache.get('a', compute)).toBe(4);
    const generation = cache.generation;
    cache.clear();
    cache.keep('x', 99, generation);
    expect(cache.peek('x')).toBeUndefined();
  });

  it('sees the session store subscriptions as they change', async () => {
    const store = createSessionStore() as unknown as {
      subscriptionsByTopic(t: string): Promise<Array<{ clientId: string }>>;
      addSubscriptions(c: object, s: object[]): Promise<unknown>;
      removeSubscriptions(c: object, s: string[]): Promise<unknown>;
      cleanSubscriptions(c: object): Promise<unknown>;
    };
    const ids = async (t: string) => (await store.subscriptionsByTopic(t)).map((s) => s.clientId).sort();
    expect(await ids('sensors/kit-1/readings')).toEqual([]);
    await store.addSubscriptions({ id: 'ingest' }, [{ topic: 'sensors/+/readings', qos: 1 }]);
    expect(await ids('sensors/kit-1/readings')).toEqual(['ingest']);
    await store.addSubscriptions({ id: 'api' }, [{ topic: 'sensors/kit-1/readings', qos: 1 }]);
    expect(await ids('sensors/kit-1/readings')).toEqual(['api', 'ingest']);
    await store.removeSubscriptions({ id: 'api' }, ['sensors/kit-1/readings']);
    expect(await ids('sensors/kit-1/readings')).toEqual(['ingest']);
    await store.cleanSubscriptions({ id: 'ingest' });
    expect(await ids('sensors/kit-1/readings')).toEqual([]);
  });
});
