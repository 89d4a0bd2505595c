import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { MatchCache } from './match-cache.ts';

/**
 * Aedes' in-memory persistence with the outgoing queues indexed.
 *
 * aedes-persistence keeps each session's unacknowledged QoS 1/2 messages in an array and finds the one to
 * number (`outgoingUpdate`) or to drop on PUBACK (`outgoingClearMessageId`) by scanning it: linear in what
 * the client holds. Ingest holds up to INGEST_MAX_HELD_MESSAGES until written, so every delivery and every
 * PUBACK walked thousands of packets (a fifth of the broker's time in the benchmark). Here each queue is a
 * linked list of entries in queue order, indexed by broker id + counter and by packet id, and an entry
 * points at the shared packet instead of a copy per session; the behaviour, including the first-in-queue
 * match the scans gave, is kept. Everything else is the library's.
 */
const require = createRequire(import.meta.url);
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as new (opts?: object) => object;
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as {
  CallBackPersistence: new (factory: (opts: object) => object, opts?: object) => object;
};
const Packet = require('aedes-packet') as new (p: object) => QueuedPacket;

interface QueuedPacket {
  cmd?: string;
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  [key: string]: unknown;
}
interface Entry {
  /**
   * The publish as Aedes enqueued it, shared by every session it went to and never changed here: this
   * session's packet id is `messageId`, put on a copy only when the queue is replayed. (A PUBREL that took
   * a publish's place is this session's own.) aedes-persistence copied every packet for every session on
   * enqueue; under load those copies lived until ingest's PUBACK and were most of the store's garbage.
   */
  packet: QueuedPacket;
  brokerId: string | undefined;
  counter: number | undefined;
  messageId: number | undefined;
  /** Queue order, a doubly linked list: O(1) to append and to unlink, nothing allocated but the entry. */
  prev: Entry | undefined;
  next: Entry | undefined;
}
/** One entry, or the rare several that share a key (kept in queue order). No allocation in the usual case. */
type Slot = Entry | Entry[];
interface Queue {
  head: Entry | undefined;
  tail: Entry | undefined;
  /** broker counter → entry for this broker's packets (all of them on one broker): a delivery finds its entry. */
  own: Map<number, Slot>;
  /** broker id → broker counter → entry, for packets another broker numbered. */
  foreign: Map<string, Map<number, Slot>>;
  /** packet id → entry, for numbered entries: a PUBACK finds what it acknowledges. */
  byMessageId: Map<number, Slot>;
  size: number;
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
function* inOrder(q: Queue): Generator<Entry> {
  for (let e = q.head; e; e = e.next) yield e;
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
  /** Unacknowledged or queued messages kept for one device's session; the oldest go first past it. */
  readonly #maxPerDevice: number;

  constructor(opts: { maxQueuedPerDevice?: number } = {}) {
    super(opts);
    this.#maxPerDevice = opts.maxQueuedPerDevice ?? 100;
  }
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

  override addSubscriptions(client: ClientRef, subs: unknown[]) {
    return this.#changing(() => super.addSubscriptions(client, subs));
  }

  override removeSubscriptions(client: ClientRef, subs: unknown[]) {
    return this.#changing(() => super.removeSubscriptions(client, subs));
  }

  override cleanSubscriptions(client: ClientRef) {
    return this.#changing(() => super.cleanSubscriptions(client));
  }

  /** A change of subscriptions forgets the cached matches, when it starts and when it is done. */
  async #changing<T>(change: () => Promise<T>): Promise<T> {
    this.#matches.clear();
    try {
      return await change();
    } finally {
      this.#matches.clear();
    }
  }

  #queue(clientId: string): Queue {
    const q = this.#queues.get(clientId);
    if (q) return q;
    const created: Queue = {
      head: undefined,
      tail: undefined,
      own: new Map(),
      foreign: new Map(),
      byMessageId: new Map(),
      size: 0,
    };
    this.#queues.set(clientId, created);
    return created;
  }

  /** The id this broker stamps on its packets (Aedes hands the persistence the broker in setup). */
  get #ownId(): string | undefined {
    return (this as unknown as { broker?: { id?: string } }).broker?.id;
  }

  #counters(q: Queue, brokerId: string, create: boolean): Map<number, Slot> | undefined {
    if (brokerId === this.#ownId) return q.own;
    let counters = q.foreign.get(brokerId);
    if (!counters && create) {
      counters = new Map();
      q.foreign.set(brokerId, counters);
    }
    return counters;
  }

  #index(q: Queue, e: Entry) {
    if (e.brokerId !== undefined && e.counter !== undefined)
      addTo(this.#counters(q, e.brokerId, true)!, e.counter, e);
    if (e.messageId !== undefined) addTo(q.byMessageId, e.messageId, e);
  }

  #unindex(q: Queue, e: Entry) {
    if (e.brokerId !== undefined && e.counter !== undefined) {
      const counters = this.#counters(q, e.brokerId, false);
      if (counters) {
        removeFrom(counters, e.counter, e);
        if (counters.size === 0 && counters !== q.own) q.foreign.delete(e.brokerId);
      }
    }
    if (e.messageId !== undefined) removeFrom(q.byMessageId, e.messageId, e);
  }

  #enqueue(clientId: string, packet: QueuedPacket) {
    const q = this.#queue(clientId);
    const e: Entry = {
      packet,
      brokerId: packet.brokerId,
      counter: packet.brokerCounter,
      messageId: packet.messageId,
      prev: q.tail,
      next: undefined,
    };
    if (q.tail) q.tail.next = e;
    else q.head = e;
    q.tail = e;
    this.#index(q, e);
    // A device's session (client ids of services start with `svc:`, CONTRACT §1) holds a bounded number:
    // a car that never acknowledges its commands cannot grow the broker's memory. Services are bounded by
    // their own settings (ingest's INGEST_MAX_HELD_MESSAGES).
    if (++q.size > this.#maxPerDevice && !clientId.startsWith('svc:')) {
      const oldest = q.head!;
      this.#unlink(q, oldest);
      this.#unindex(q, oldest);
    }
  }

  #unlink(q: Queue, e: Entry) {
    q.size--;
    if (e.prev) e.prev.next = e.next;
    else q.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else q.tail = e.prev;
    e.prev = e.next = undefined;
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
        : firstOf(this.#counters(q, packet.brokerId, false)?.get(packet.brokerCounter));
    if (same) {
      // The packet got its packet id: renumber the entry.
      if (same.messageId !== undefined) removeFrom(q.byMessageId, same.messageId, same);
      same.messageId = packet.messageId;
      if (same.messageId !== undefined) addTo(q.byMessageId, same.messageId, same);
      return;
    }
    // A PUBREL (QoS 2) or a packet of another broker under the same packet id takes the stored one's place.
    const candidates =
      packet.messageId === undefined
        ? Array.from(inOrder(q)).filter((e) => e.messageId === undefined)
        : Array.from(entries(q.byMessageId.get(packet.messageId)));
    for (const e of candidates) {
      if (e.brokerId === packet.brokerId) continue;
      this.#unindex(q, e);
      e.packet = packet;
      e.brokerId = packet.brokerId;
      e.counter = packet.brokerCounter;
      e.messageId = packet.messageId;
      this.#index(q, e);
      return;
    }
    throw new Error('no such packet');
  }

  /**
   * Resolves with what the PUBACK acknowledged. For a publish that is the shared packet (its `messageId` is
   * not this session's): Aedes only emits it with 'ack'.
   */
  outgoingClearMessageId(client: ClientRef, packet: QueuedPacket): Promise<QueuedPacket | undefined> {
    return Promise.resolve(this.#clear(client, packet));
  }

  #clear(client: ClientRef, packet: QueuedPacket): QueuedPacket | undefined {
    const q = this.#queue(client.id);
    let e: Entry | undefined;
    if (packet.messageId !== undefined) e = firstOf(q.byMessageId.get(packet.messageId));
    else {
      // Not yet numbered (a packet dropped before delivery): rare, found by scanning as the library does.
      for (const candidate of inOrder(q)) {
        if (candidate.messageId === undefined) {
          e = candidate;
          break;
        }
      }
    }
    if (!e) return undefined;
    this.#unlink(q, e);
    this.#unindex(q, e);
    return e.packet;
  }

  outgoingStream(client: ClientRef) {
    // Copies made now, so acknowledgements during the replay do not change what is replayed; each publish
    // with this session's packet id, as the library's per-session copies had it.
    const q = this.#queues.get(client.id);
    const packets: QueuedPacket[] = [];
    if (q) {
      for (const e of inOrder(q)) {
        if (e.packet.cmd !== undefined && e.packet.cmd !== 'publish') packets.push(e.packet);
        else {
          const copy = new Packet(e.packet);
          copy.messageId = e.messageId;
          packets.push(copy);
        }
      }
    }
    return Readable.from(packets);
  }
}

/** An aedes `persistence` option: the in-memory store with indexed outgoing queues. */
export function createSessionStore(opts: { maxQueuedPerDevice?: number } = {}) {
  return new CallBackPersistence((o) => new IndexedMemoryPersistence(o), opts);
}
