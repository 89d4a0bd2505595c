import { parseTopic, STAMPED_TOPIC_KINDS, stamp } from '@citytel/contract';
import type { AedesPublishPacket, Client, PublishPacket, Subscription } from 'aedes';
import { checkPublish, checkSubscribe, type PublishVerdict } from './acl.ts';
import { remoteAddressOf } from './connection.ts';
import { identityName, identityOf } from './identity.ts';
import type { Refusals } from './refusals.ts';
import type { AppendToStream } from './stream-append.ts';

/**
 * Aedes' authorizePublish / authorizeSubscribe hooks: the verdicts of acl.ts applied to packets.
 * A refused PUBLISH errors, and Aedes closes the connection without telling the client ([MQTT-3.3.5-2]
 * in 3.1.1 terms: no way to say no to a PUBLISH). A refused subscription is granted as 0x80 and the
 * connection stays.
 *
 * In cluster mode (`append` given) a stamped message is in the ingest stream before the hook lets it
 * through: Aedes writes a QoS 1 PUBACK right after this hook, so a PUBACK means Redis holds the message.
 * A failed append errors the hook, the device is disconnected without PUBACK and publishes again.
 */
const STAMPED = Symbol('citytel.stamped');
interface Marked {
  [STAMPED]?: boolean;
}

export function createAuthorization(refusals: Refusals, onForward: () => void, append?: AppendToStream) {
  // Packets already carrying the receive time. A will is authorized again each time Aedes tries to publish
  // it, and a packet object may pass this hook more than once: the time is stamped on the first pass only.
  // A symbol-keyed mark on the packet (nothing a client sends can set it) rather than a WeakSet, whose
  // entries cost the garbage collector for every message.
  const stamped = {
    has: (p: object) => (p as Marked)[STAMPED] === true,
    add: (p: object) => {
      (p as Marked)[STAMPED] = true;
    },
    delete: (p: object) => {
      (p as Marked)[STAMPED] = false;
    },
  };

  return {
    authorizePublish(
      client: Client | null,
      packet: PublishPacket,
      done: (error?: Error | null) => void,
    ): void {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const request = { topic: packet.topic, payloadBytes: payload.length, retain: packet.retain };
      const identity = identityOf(client);
      let verdict: PublishVerdict;
      if (identity) {
        verdict = checkPublish(identity, request);
      } else if (client === null) {
        // A will left by a broker that died, published after its client is gone. It was checked against the
        // client's rights when it connected (auth.ts); apply the retain and stamp rules of its topic.
        const kind = parseTopic(packet.topic)?.kind;
        verdict = kind
          ? {
              ok: true,
              retain: packet.retain && kind === 'vehicle-status',
              stamp: STAMPED_TOPIC_KINDS.has(kind),
            }
          : { ok: false, reason: 'publish_denied' };
      } else {
        verdict = { ok: false, reason: 'publish_denied' };
      }

      if (!verdict.ok) {
        refusals.refuse(verdict.reason, {
          clientId: client?.id,
          username: identity ? identityName(identity) : undefined,
          remoteAddress: remoteAddressOf(client),
          topic: packet.topic,
          detail: verdict.reason === 'payload_too_large' ? `${payload.length} bytes` : undefined,
        });
        done(new Error(`${verdict.reason}: ${packet.topic}`));
        return;
      }
      packet.retain = verdict.retain;
      if (!verdict.stamp || stamped.has(packet)) {
        done(null);
        return;
      }
      const stampedPayload = stamp(payload, Date.now());
      packet.payload = stampedPayload;
      stamped.add(packet);
      if (!append) {
        done(null);
        return;
      }
      append(packet.topic, stampedPayload).then(
        () => done(null),
        (err: Error) => {
          // stamped again on the next pass, which appends it again
          stamped.delete(packet);
          packet.payload = payload;
          done(new Error(`ingest stream append failed: ${err.message}`));
        },
      );
    },

    authorizeSubscribe(
      client: Client,
      subscription: Subscription,
      done: (error: Error | null, subscription?: Subscription | null) => void,
    ): void {
      const identity = identityOf(client);
      const verdict = identity
        ? checkSubscribe(identity, subscription.topic)
        : ({ ok: false, reason: 'subscribe_denied' } as const);
      if (verdict.ok) {
        done(null, subscription);
        return;
      }
      refusals.refuse(verdict.reason, {
        clientId: client.id,
        username: identity ? identityName(identity) : undefined,
        remoteAddress: remoteAddressOf(client),
        topic: subscription.topic,
      });
      done(null, null); // SUBACK 0x80 for this filter
    },

    /** Every message on its way to a client passes here, retained ones included: the count of messages out. */
    authorizeForward(_client: Client, packet: AedesPublishPacket): AedesPublishPacket {
      onForward();
      return packet;
    },
  };
}
