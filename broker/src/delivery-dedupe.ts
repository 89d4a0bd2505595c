import type { Client } from 'aedes';

type Deliver = (packet: DeliveredPacket, cb: (err?: Error) => void) => void;

interface DeliveredPacket {
  brokerId?: string | null;
  brokerCounter?: number;
  qos?: number;
}

interface DeliveringClient {
  deliver0: Deliver;
  deliverQoS: Deliver;
  duplicates: Record<string, number>;
}

/** Enough to cover one packet matched by several of a client's subscriptions, which arrive together. */
const REMEMBERED = 1024;

/**
 * Cluster mode only. Aedes drops a delivery whose `brokerCounter` is not above the last one the client got
 * from that broker (lib/client.js `dedupe`), which assumes packets reach subscribers in the order they were
 * numbered. With the Redis persistence they don't: a retained or QoS 1 publish waits for its Redis writes
 * (storeRetained, enqueueOffline) while the same device's next QoS 0 publish is emitted at once, so the
 * earlier packet arrives second and is silently dropped — a car's retained status lost behind its telemetry
 * (moscajs/aedes#994). Here a delivery is a duplicate only when that very packet (broker id and counter) was
 * delivered to this client already, which is what the check is for: one packet matching several
 * subscriptions. Aedes' own check then runs with its counter set so that it agrees, duplicates included
 * (it clears their offline copies).
 */
export function dedupeByPacketIdentity(client: Client): void {
  const c = client as unknown as DeliveringClient;
  const seen = new Set<string>();
  const decide = (packet: DeliveredPacket) => {
    const id = packet.brokerId;
    if (!id || packet.brokerCounter === undefined) return;
    const key = `${id}\u0000${packet.brokerCounter}`;
    if (seen.has(key)) {
      c.duplicates[id] = packet.brokerCounter;
      return;
    }
    seen.add(key);
    if (seen.size > REMEMBERED) seen.delete(seen.values().next().value as string);
    c.duplicates[id] = packet.brokerCounter - 1;
  };
  const deliver0 = c.deliver0;
  const deliverQoS = c.deliverQoS;
  c.deliver0 = (packet, cb) => {
    decide(packet);
    deliver0(packet, cb);
  };
  // Aedes' deliverQoS hands QoS 0 packets to `client.deliver0`, which decides then.
  c.deliverQoS = (packet, cb) => {
    if (packet.qos !== 0) decide(packet);
    deliverQoS(packet, cb);
  };
}
