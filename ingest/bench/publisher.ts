import { connect, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import type { Message } from './workload.ts';

/**
 * The load generator's MQTT connection: MQTT 3.1.1 over TCP, QoS 1 with at most `window` unacknowledged
 * publishes, its packets encoded before the clock starts (`encodePublishes`). MQTT.js spent ~15 µs of CPU per publish
 * (measured beside this one: `--publisher=mqttjs`), as much as the broker or ingest, on the same two cores:
 * the generator took a share of the machine from what it measures. This one writes the packets that fit in
 * the window in one go and counts PUBACKs (and a PINGRESP), which is all a publisher at QoS 1 does.
 */
export interface LeanPublisher {
  /** Publishes packets made by `encodePublishes`, in order; resolves with the count that failed. */
  publishAll(packets: Buffer[]): Promise<number>;
  end(): Promise<void>;
}

const PINGREQ = Buffer.from([0xc0, 0]);
const DISCONNECT = Buffer.from([0xe0, 0]);

/** MQTT's variable-length "remaining length". */
export function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A length-prefixed MQTT string. */
export const utf8Field = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
};

/** PUBLISH, QoS 1, not retained. Packet ids cycle over 1..65535; the window keeps far fewer in flight. */
export function encodePublishes(messages: Message[]): Buffer[] {
  return messages.map((m, i) => {
    const id = Buffer.alloc(2);
    id.writeUInt16BE((i % 65535) + 1);
    const body = Buffer.concat([utf8Field(m.topic), id, Buffer.from(m.payload)]);
    return Buffer.concat([Buffer.from([0x32, ...remainingLength(body.length)]), body]);
  });
}

/** MQTT 3.1.1 CONNECT, keepalive 60 s; a clean session unless `clean` is false. */
export function encodeConnect(clientId: string, username?: string, password?: string, clean = true): Buffer {
  const flags = (clean ? 0x02 : 0) | (username !== undefined ? 0xc0 : 0); // session, user and password
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(60);
  const body = Buffer.concat([
    utf8Field('MQTT'),
    Buffer.from([4, flags]),
    keepalive,
    utf8Field(clientId),
    ...(username !== undefined ? [utf8Field(username), utf8Field(password ?? '')] : []),
  ]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

export function connectLean(
  url: string,
  opts: { clientId: string; username?: string; password?: string; window: number },
): Promise<LeanPublisher> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: u.hostname, port: Number(u.port || 1883), noDelay: true });
    let pending: Buffer = Buffer.alloc(0);
    let connected = false;
    let onAcks: ((n: number) => void) | undefined;
    let onClose: (() => void) | undefined;
    const ping = setInterval(() => socket.write(PINGREQ), 20_000);
    socket.once('connect', () => {
      socket.write(encodeConnect(opts.clientId, opts.username, opts.password));
    });
    socket.on('data', (chunk: Buffer) => {
      const data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let at = 0;
      let acks = 0;
      // The broker sends this client only 2-byte-remaining-length packets: CONNACK, PUBACK, PINGRESP.
      while (at + 2 <= data.length) {
        const type = data[at]! >> 4;
        const length = data[at + 1]!;
        if (at + 2 + length > data.length) break;
        if (type === 2) {
          const code = data[at + 3];
          if (code !== 0) {
            reject(new Error(`CONNACK ${code} for ${opts.clientId}`));
            socket.destroy();
            return;
          }
          connected = true;
          resolve(publisher);
        } else if (type === 4) acks++;
        at += 2 + length;
      }
      pending = data.subarray(at);
      if (acks) onAcks?.(acks);
    });
    socket.on('error', (err) => {
      if (!connected) reject(err);
    });
    socket.on('close', () => {
      clearInterval(ping);
      if (!connected) reject(new Error(`connection of ${opts.clientId} closed before CONNACK`));
      onClose?.();
    });

    const publisher: LeanPublisher = {
      publishAll(packets) {
        return new Promise((done) => {
          let next = 0;
          let inflight = 0;
          const fill = () => {
            const upTo = Math.min(packets.length, next + (opts.window - inflight));
            if (upTo <= next) return;
            socket.write(upTo - next === 1 ? packets[next]! : Buffer.concat(packets.slice(next, upTo)));
            inflight += upTo - next;
            next = upTo;
          };
          onAcks = (n) => {
            inflight -= n;
            if (next >= packets.length && inflight <= 0) {
              onAcks = undefined;
              onClose = undefined;
              done(0);
            } else fill();
          };
          // A closed connection fails what it had not acknowledged and what it had not sent.
          onClose = () => done(inflight + packets.length - next);
          if (packets.length === 0) done(0);
          else fill();
        });
      },
      end() {
        clearInterval(ping);
        return new Promise((r) => {
          if (socket.destroyed) return r();
          socket.end(DISCONNECT, () => r());
        });
      },
    };
  });
}

/** The bench's publishing connections, lean (default) or MQTT.js (`--publisher=mqttjs`), to compare. */
export interface Publishers {
  /** Encodes ahead what can be; the function returned publishes it all and resolves with the failures. */
  prepare(perConnection: Message[][]): () => Promise<number>;
  end(): Promise<void>;
}

export type PublisherKind = 'lean' | 'mqttjs';

export async function openPublishers(opts: {
  kind: PublisherKind;
  url: string;
  connections: number;
  clientIdPrefix: string;
  username?: string | undefined;
  password?: string | undefined;
  window: number;
}): Promise<Publishers> {
  const ids = Array.from({ length: opts.connections }, (_, i) => `${opts.clientIdPrefix}${i}`);
  if (opts.kind === 'lean') {
    const conns = await Promise.all(
      ids.map((clientId) =>
        connectLean(opts.url, {
          clientId,
          username: opts.username,
          password: opts.password,
          window: opts.window,
        }),
      ),
    );
    return {
      prepare(perConnection) {
        const packets = perConnection.map(encodePublishes);
        return async () =>
          (await Promise.all(conns.map((c, i) => c.publishAll(packets[i] ?? [])))).reduce((a, b) => a + b, 0);
      },
      end: async () => {
        await Promise.all(conns.map((c) => c.end()));
      },
    };
  }
  const clients = await Promise.all(
    ids.map((clientId) =>
      mqtt.connectAsync(opts.url, {
        clientId,
        reconnectPeriod: 0,
        ...(opts.username ? { username: opts.username, password: opts.password } : {}),
      }),
    ),
  );
  return {
    prepare(perConnection) {
      return async () =>
        (
          await Promise.all(clients.map((c, i) => publishWithMqttJs(c, perConnection[i] ?? [], opts.window)))
        ).reduce((a, b) => a + b, 0);
    },
    end: async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
    },
  };
}

/** Publishes a connection's messages at QoS 1 through MQTT.js with at most `window` unacknowledged. */
export function publishWithMqttJs(client: MqttClient, messages: Message[], window: number): Promise<number> {
  return new Promise((resolve) => {
    let next = 0;
    let inflight = 0;
    let errors = 0;
    const pump = () => {
      while (inflight < window && next < messages.length) {
        const m = messages[next++]!;
        inflight++;
        client.publish(m.topic, m.payload, { qos: 1 }, (err) => {
          inflight--;
          if (err) errors++;
          if (next >= messages.length && inflight === 0) resolve(errors);
          else pump();
        });
      }
    };
    if (messages.length === 0) resolve(0);
    else pump();
  });
}
