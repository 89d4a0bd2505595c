import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

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
  counterKey: string | undefined;
  messageId: number | undefined;
}
interface Queue {
  order: Set<Entry>;
  byCounter: Map<string, Set<Entry>>;
  byMessageId: Map<number | undefined, Set<Entry>>;
}
interface ClientRef {
  id: string;
}

const keyOf = (p: QueuedPacket) =>
  p.brokerId === undefined ? undefined : `${p.brokerId}\0${p.brokerCounter}`;

function addTo<K>(map: Map<K, Set<Entry>>, key: K, e: Entry) {
  const set = map.get(key);
  if (set) set.add(e);
  else map.set(key, new Set([e]));
}
function removeFrom<K>(map: Map<K, Set<Entry>>, key: K, e: Entry) {
  const set = map.get(key);
  if (!set) return;
  set.delete(e);
  if (set.size === 0) map.delete(key);
}
function first(set: Set<Entry> | undefined): Entry | undefined {
  if (!set) return undefined;
  for (const e of set) return e;
  return undefined;
}

class IndexedMemoryPersistence extends (MemoryPersistence as new (opts?: object) => object) {
  readonly #queues = new Map<string, Queue>();

  #queue(clientId: string): Queue {
    let q = this.#queues.get(clientId);
    if (!q)
      this.#queues.set(clientId, (q = { order: new Set(), byCounter: new Map(), byMessageId: new Map() }));
    return q;
  }

  #enqueue(clientId: string, packet: QueuedPacket) {
    const q = this.#queue(clientId);
    const copy = new Packet(packet);
    const e: Entry = { packet: copy, counterKey: keyOf(copy), messageId: copy.messageId };
    q.order.add(e);
    if (e.counterKey !== undefined) addTo(q.byCounter, e.counterKey, e);
    addTo(q.byMessageId, e.messageId, e);
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket) {
    this.#enqueue(sub.clientId, packet);
  }

  async outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: QueuedPacket) {
    for (const sub of subs) this.#enqueue(sub.clientId, packet);
  }

  async outgoingUpdate(client: ClientRef, packet: QueuedPacket) {
    const q = this.#queue(client.id);
    const key = keyOf(packet);
    const same = key === undefined ? undefined : first(q.byCounter.get(key));
    if (same) {
      // The packet got its packet id: renumber the stored copy.
      removeFrom(q.byMessageId, same.messageId, same);
      same.messageId = packet.messageId;
      same.packet.messageId = packet.messageId;
      addTo(q.byMessageId, same.messageId, same);
      return;
    }
    // A PUBREL (QoS 2) or a packet of another broker under the same packet id takes the stored one's place.
    for (const e of q.byMessageId.get(packet.messageId) ?? []) {
      if (e.packet.brokerId === packet.brokerId) continue;
      if (e.counterKey !== undefined) removeFrom(q.byCounter, e.counterKey, e);
      e.packet = packet;
      e.counterKey = keyOf(packet);
      if (e.counterKey !== undefined) addTo(q.byCounter, e.counterKey, e);
      return;
    }
    throw new Error('no such packet');
  }

  async outgoingClearMessageId(client: ClientRef, packet: QueuedPacket) {
    const q = this.#queue(client.id);
    const e = first(q.byMessageId.get(packet.messageId));
    if (!e) return undefined;
    q.order.delete(e);
    removeFrom(q.byMessageId, e.messageId, e);
    if (e.counterKey !== undefined) removeFrom(q.byCounter, e.counterKey, e);
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
