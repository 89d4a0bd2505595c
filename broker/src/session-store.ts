import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { MatchCache } from './match-cache.ts';

/**
 * Aedes' in-memory persistence with the outgoing queues indexed.
 *
 * aedes-persistence keeps each session's unacknowledged QoS 1/2 messages in an array and finds the one to
 * number (`outgoingUpdate`) or to drop on PUBACK (`outgoingClearMessageId`) by scanning it: linear in what
 * the client holds. Ingest holds up to INGEST_MAX_HELD_MESSAGES until written, so every delivery and every
 * PUBACK walked thousands of packets (a fifth of the broker's time in the benchmark). Here each queue is an
 * insertion-ordered Set of entries, indexed by broker id + counter and by packet id; the behaviour, including
 * the first-in-queue match the scans gave, is kept. Everything else is the library's.
 */
const require = createRequire(import.meta.url);
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as new (opts?: object) => object;
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as {
  CallBackPersistence: new (factory: (opts: object) => object, opts?: object) => object;
};
const Packet = require('aedes-packet') as new (p: object) => QueuedPacket;

interface QueuedPacket {
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  [key: string]: unknown;
}
interface Entry {
  packet: QueuedPacket;
  brokerId: string | undefined;
  counter: number | undefined;
  messageId: number | undefined;
}
/** One entry, or the rare several that share a key (kept in queue order). No allocation in the usual case. */
type Slot = Entry | Entry[];
interface Queue {
  order: Set<Entry>;
  /** broker id → broker counter → entry: a delivery finds its stored copy to number. */
  byCounter: Map<string, Map<number, Slot>>;
  /** packet id → entry, for numbered entries: a PUBACK finds what it acknowledges. */
  byMessageId: Map<number, Slot>;
}
interface ClientRef {
  id: string;
}

function addTo<K>(map: Map<K, Slot>, key: K, e: Entry) {
  const slot = map.get(key);
  if (slot === undefined) map.set(key, e);
  else if (Array.isArray(slot)) slot.push(e);
  else map.set(key, [slot, e]);
}
function removeFrom<K>(map: Map<K, Slot>, key: K, e: Entry) {
  const slot = map.get(key);
  if (slot === e) map.delete(key);
  else if (Array.isArray(slot)) {
    const i = slot.indexOf(e);
    if (i >= 0) slot.splice(i, 1);
    if (slot.length === 1) map.set(key, slot[0]!);
  }
}
function* entries(slot: Slot | undefined): Generator<Entry> {
  if (slot === undefined) return;
  if (Array.isArray(slot)) yield* slot;
  else yield slot;
}
const firstOf = (slot: Slot | undefined) => (Array.isArray(slot) ? slot[0] : slot);
const DONE: Promise<void> = Promise.resolve();

interface SubscriptionStore {
  subscriptionsByTopic(topic: string): Promise<unknown[]>;
  addSubscriptions(client: ClientRef, subs: unknown[]): Promise<unknown>;
  removeSubscriptions(client: ClientRef, subs: unknown[]): Promise<unknown>;
  cleanSubscriptions(client: ClientRef): Promise<unknown>;
}
const Base = MemoryPersistence as unknown as new (
  opts?: object,
) => SubscriptionStore & { broadcast?: unknown };

class IndexedMemoryPersistence extends Base {
  readonly #queues = new Map<string, Queue>();
  /** Persistent sessions matching a topic, asked for every QoS 1 message (match-cache.ts). */
  readonly #matches = new MatchCache<Promise<unknown[]>>();

  override subscriptionsByTopic(topic: string): Promise<unknown[]> {
    // Other brokers' subscriptions reach the tree directly when they are broadcast: no cache then.
    if (this.broadcast) return super.subscriptionsByTopic(topic);
    // The promise itself is kept: Aedes only awaits it, and a settled promise can be awaited any number of times.
    const known = this.#matches.peek(topic);
    if (known) return known;
    const generation = this.#matches.generation;
    const subs = super.subscriptionsByTopic(topic);
    this.#matches.keep(topic, subs, generation);
    return subs;
  }

  override async addSubscriptions(client: ClientRef, subs: unknown[]) {
    this.#matches.clear();
    try {
      return await super.addSubscriptions(client, subs);
    } finally {
      this.#matches.clear();
    }
  }

  override async removeSubscriptions(client: ClientRef, subs: unknown[]) {
    this.#matches.clear();
    try {
      return await super.removeSubscriptions(client, subs);
    } finally {
      this.#matches.clear();
    }
  }

  override async cleanSubscriptions(client: ClientRef) {
    this.#matches.clear();
    try {
      return await super.cleanSubscriptions(client);
    } finally {
      this.#matches.clear();
    }
  }

  #queue(clientId: string): Queue {
    const q = this.#queues.get(clientId);
    if (q) return q;
    const created: Queue = { order: new Set(), byCounter: new Map(), byMessageId: new Map() };
    this.#queues.set(clientId, created);
    return created;
  }

  #index(q: Queue, e: Entry) {
    if (e.brokerId !== undefined && e.counter !== undefined) {
      let counters = q.byCounter.get(e.brokerId);
      if (!counters) {
        counters = new Map();
        q.byCounter.set(e.brokerId, counters);
      }
      addTo(counters, e.counter, e);
    }
    if (e.messageId !== undefined) addTo(q.byMessageId, e.messageId, e);
  }

  #unindex(q: Queue, e: Entry) {
    if (e.brokerId !== undefined && e.counter !== undefined) {
      const counters = q.byCounter.get(e.brokerId);
      if (counters) {
        removeFrom(counters, e.counter, e);
        if (counters.size === 0) q.byCounter.delete(e.brokerId);
      }
    }
    if (e.messageId !== undefined) removeFrom(q.byMessageId, e.messageId, e);
  }

  #enqueue(clientId: string, packet: QueuedPacket) {
    const q = this.#queue(clientId);
    const copy = new Packet(packet);
    const e: Entry = {
      packet: copy,
      brokerId: copy.brokerId,
      counter: copy.brokerCounter,
      messageId: copy.messageId,
    };
    q.order.add(e);
    this.#index(q, e);
  }

  // The methods on every message's path answer with one settled promise instead of a new one per call
  // (what `async` would make): Aedes only chains on them.
  outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<void> {
    this.#enqueue(sub.clientId, packet);
    return DONE;
  }

  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: QueuedPacket): Promise<void> {
    for (const sub of subs) this.#enqueue(sub.clientId, packet);
    return DONE;
  }

  outgoingUpdate(client: ClientRef, packet: QueuedPacket): Promise<void> {
    try {
      this.#update(client, packet);
      return DONE;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #update(client: ClientRef, packet: QueuedPacket): void {
    const q = this.#queue(client.id);
    const same =
      packet.brokerId === undefined || packet.brokerCounter === undefined
        ? undefined
        : firstOf(q.byCounter.get(packet.brokerId)?.get(packet.brokerCounter));
    if (same) {
      // The packet got its packet id: renumber the stored copy.
      if (same.messageId !== undefined) removeFrom(q.byMessageId, same.messageId, same);
      same.messageId = packet.messageId;
      same.packet.messageId = packet.messageId;
      if (same.messageId !== undefined) addTo(q.byMessageId, same.messageId, same);
      return;
    }
    // A PUBREL (QoS 2) or a packet of another broker under the same packet id takes the stored one's place.
    const candidates =
      packet.messageId === undefined
        ? Array.from(q.order).filter((e) => e.messageId === undefined)
        : Array.from(entries(q.byMessageId.get(packet.messageId)));
    for (const e of candidates) {
      if (e.brokerId === packet.brokerId) continue;
      this.#unindex(q, e);
      e.packet = packet;
      e.brokerId = packet.brokerId;
      e.counter = packet.brokerCounter;
      this.#index(q, e);
      return;
    }
    throw new Error('no such packet');
  }

  outgoingClearMessageId(client: ClientRef, packet: QueuedPacket): Promise<QueuedPacket | undefined> {
    return Promise.resolve(this.#clear(client, packet));
  }

  #clear(client: ClientRef, packet: QueuedPacket): QueuedPacket | undefined {
    const q = this.#queue(client.id);
    let e: Entry | undefined;
    if (packet.messageId !== undefined) e = firstOf(q.byMessageId.get(packet.messageId));
    else {
      // Not yet numbered (a packet dropped before delivery): rare, found by scanning as the library does.
      for (const candidate of q.order) {
        if (candidate.messageId === undefined) {
          e = candidate;
          break;
        }
      }
    }
    if (!e) return undefined;
    q.order.delete(e);
    this.#unindex(q, e);
    return e.packet;
  }

  outgoingStream(client: ClientRef) {
    // A copy, so acknowledgements during the replay do not change what is replayed.
    const q = this.#queues.get(client.id);
    return Readable.from(q ? Array.from(q.order, (e) => e.packet) : []);
  }
}

/** An aedes `persistence` option: the in-memory store with indexed outgoing queues. */
export function createSessionStore(opts: object = {}) {
  return new CallBackPersistence((o) => new IndexedMemoryPersistence(o), opts);
}
