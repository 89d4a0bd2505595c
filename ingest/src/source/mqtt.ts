import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { MessageSource, SourceHandlers, SourceMessage, SourceStats } from './types.ts';

export interface MqttSourceOptions {
  url: string;
  /** Stable across restarts: the broker keeps the persistent session (and its unacknowledged messages) under it. */
  clientId: string;
  username: string;
  password: string;
  subscriptions: readonly string[];
  keepaliveS: number;
  log: Logger;
}

export interface MqttSource extends MessageSource {
  /** Publishes on the same connection (QoS 0); dropped while disconnected. */
  publish(topic: string, payload: string, retain: boolean): void;
}

/**
 * A delivered message, and for QoS 1 its place in the PUBACK queue (one object per message); `ack`
 * lives on the prototype, so a delivery allocates no closure (tsx keeps function names, which makes every
 * closure created per message cost a defineProperty as well). Being a method, it is called on the message
 * (`m.ack()`), not passed on alone.
 */
class Delivery implements SourceMessage {
  /** Acknowledged by ingest (its PUBACK may still wait for earlier messages). */
  done = false;

  constructor(
    readonly topic: string,
    readonly payload: Buffer,
    readonly retain: boolean,
    /** QoS 1 only: the packet id its PUBACK carries; undefined for QoS 0, which is not acknowledged. */
    readonly messageId: number | undefined,
    /** The connection it came on: a PUBACK never goes to another. */
    readonly connection: number,
    private readonly release: (d: Delivery) => void,
  ) {}

  ack(): void {
    if (this.messageId !== undefined && !this.done) this.release(this);
  }
}

/** A 3.1.1 PUBACK is 4 bytes: type, remaining length 2, packet id. */
const PUBACK_BYTES = 4;

/**
 * Passed to MQTT.js's handleMessage callback to release its packet queue without sending the PUBACK. In
 * MQTT.js 5, incoming packets are handled one at a time (client.js `work` / `nextTickWork`): the callback of
 * `handleMessage` both sends the PUBACK and lets the next packet in. Holding it until a message is written
 * would serialize everything (and starve PINGRESP). With an error, publish.js calls the queue's `done`
 * without a PUBACK; the PUBACK is then sent here once the message's points are written.
 */
const HELD = new Error('puback held until written');

/**
 * The direct MQTT subscription: QoS 1, persistent session (clean: false), so messages published while
 * ingest is down or not yet acknowledged when it died are delivered again.
 */
export function createMqttSource(opts: MqttSourceOptions): MqttSource {
  const log = opts.log;
  let client: MqttClient | undefined;
  let handlers: SourceHandlers | undefined;
  // Acknowledgements leave in the order the messages arrived [MQTT-4.6.0-2], so a message written early
  // waits for those before it. The queue belongs to one connection: after a reconnect the broker sends
  // every unacknowledged message again, and a late PUBACK must not reach the new connection.
  let queue: Delivery[] = [];
  let head = 0;
  let connection = 0;
  let delivering = true;
  let started = false;
  let pausedSince: number | undefined;
  let waiting: { packet: IPublishPacket; callback: (err?: Error) => void; connection: number } | undefined;
  const s = { received: 0, acked: 0, pausedMs: 0, reconnects: 0 };

  /**
   * PUBACKs leave together, once per turn of the event loop: a written batch settles thousands of
   * messages one after the other, and a write each was a system call per message (6 % of ingest's time).
   * MQTT.js has no public call for a deferred PUBACK; its own publish handler sends one packet at a time
   * through `_sendPacket`, which for a PUBACK does nothing but encode it and write it to the stream.
   */
  let acks: number[] = [];
  let acksConnection = -1;
  let acksScheduled = false;

  function flushPubacks() {
    acksScheduled = false;
    const ids = acks;
    acks = [];
    // Released on a connection since closed: the broker sends those messages again on the new one.
    if (!ids.length || acksConnection !== connection || client?.connected !== true) return;
    const buf = Buffer.allocUnsafe(ids.length * PUBACK_BYTES);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const o = i * PUBACK_BYTES;
      buf[o] = 0x40;
      buf[o + 1] = 2;
      buf[o + 2] = id >> 8;
      buf[o + 3] = id & 0xff;
    }
    client.stream.write(buf);
  }

  function release(h: Delivery) {
    h.done = true;
    if (h.connection !== connection || queue[head] !== h) return;
    const live = client?.connected === true;
    while (head < queue.length && queue[head]!.done) {
      const next = queue[head++]!;
      if (live) {
        acks.push(next.messageId!);
        acksConnection = connection;
      }
      s.acked++;
    }
    if (acks.length && !acksScheduled) {
      acksScheduled = true;
      setImmediate(flushPubacks);
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  }

  function deliver(packet: IPublishPacket, callback: (err?: Error) => void) {
    const qos1 = packet.qos === 1 && packet.messageId !== undefined;
    s.received++;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const d = new Delivery(
      packet.topic,
      payload,
      packet.retain === true,
      qos1 ? packet.messageId : undefined,
      connection,
      release,
    );
    if (qos1) queue.push(d);
    handlers!.onMessage(d);
    callback(qos1 ? HELD : undefined);
  }

  /**
   * Capacity is checked before a message is delivered, so what ingest holds never exceeds its bounds by
   * more than one message. Not taking the packet stops reading the socket: TCP pushes back on the broker,
   * which keeps the messages in the session. PINGRESP waits too: past 1.5 × keepalive MQTT.js reconnects,
   * the packet waiting here is dropped with its connection, and the broker sends it again.
   */
  function onPublish(packet: IPublishPacket, callback: (err?: Error) => void) {
    if (!delivering || !handlers) return callback(packet.qos === 1 ? HELD : undefined);
    const wait = handlers.backpressure();
    if (!wait) return deliver(packet, callback);
    waiting = { packet, callback, connection };
    pausedSince ??= Date.now();
    wait.then(() => {
      const w = waiting;
      waiting = undefined;
      if (pausedSince !== undefined) s.pausedMs += Date.now() - pausedSince;
      pausedSince = undefined;
      if (w && w.connection === connection && delivering) deliver(w.packet, w.callback);
    });
  }

  return {
    start(h) {
      handlers = h;
      const c = mqtt.connect(opts.url, {
        clientId: opts.clientId,
        username: opts.username,
        password: opts.password,
        clean: false,
        protocolVersion: 4,
        keepalive: opts.keepaliveS,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        queueQoSZero: false,
        resubscribe: true,
      });
      client = c;
      c.handleMessage = onPublish as MqttClient['handleMessage'];
      c.on('close', () => {
        connection++;
        queue = [];
        head = 0;
        acks = [];
        waiting = undefined;
      });
      // While the broker is away MQTT.js retries every second: the first failure is a warning, the rest
      // debug lines, and the reconnection says how long it took.
      let downSince: number | undefined;
      let attempts = 0;
      const trouble = (fields: object, msg: string) => {
        if (downSince === undefined) {
          downSince = Date.now();
          log.warn(fields, msg);
        } else log.debug(fields, msg);
      };
      c.on('reconnect', () => {
        s.reconnects++;
        attempts++;
        trouble({ url: opts.url }, 'reconnecting to the broker');
      });
      c.on('connect', (ack) => {
        if (downSince !== undefined) {
          log.info(
            { sessionPresent: ack.sessionPresent, downMs: Date.now() - downSince, attempts },
            'reconnected to the broker',
          );
        }
        downSince = undefined;
        attempts = 0;
      });
      return new Promise((resolve, reject) => {
        c.on('error', (err) => {
          const code = (err as { code?: unknown }).code;
          // CONNACK 4/5: bad credentials or not authorized. Retrying will not help; say so at start-up.
          if (!started && (code === 4 || code === 5)) {
            c.end(true);
            reject(new Error(`broker refused ${opts.username}: ${err.message}`));
          } else trouble({ err }, 'mqtt connection failed');
        });
        c.once('connect', (connack) => {
          log.info(
            { url: opts.url, clientId: opts.clientId, sessionPresent: connack.sessionPresent },
            'connected to the broker',
          );
          c.subscribe(
            opts.subscriptions.map((t) => t),
            { qos: 1 },
            (err, granted) => {
              const refused = granted?.filter((g) => g.qos === 128).map((g) => g.topic) ?? [];
              if (err || refused.length) {
                reject(err ?? new Error(`broker refused subscriptions: ${refused.join(', ')}`));
                return;
              }
              started = true;
              resolve();
            },
          );
        });
      });
    },
    pause() {
      delivering = false;
    },
    async close() {
      delivering = false;
      const c = client;
      if (!c) return;
      flushPubacks();
      await new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
    },
    publish(topic, payload, retain) {
      if (client?.connected) client.publish(topic, payload, { qos: 0, retain });
    },
    stats: (): SourceStats => ({
      connected: client?.connected === true,
      received: s.received,
      unacked: queue.length - head,
      acked: s.acked,
      paused: pausedSince !== undefined,
      pausedMs: s.pausedMs + (pausedSince === undefined ? 0 : Date.now() - pausedSince),
      reconnects: s.reconnects,
    }),
  };
}
