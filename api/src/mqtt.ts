import { hostname } from 'node:os';
import { maskTopic, serviceClientId } from '@citytel/contract';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { ApiError } from './errors.ts';

export type MessageHandler = (topic: string, payload: Buffer) => void;

/**
 * The api's one MQTT connection (user `svc:api`), shared by every route group: airrohr ingest publishes
 * through it, /metrics listens to the processes' stats, and later the live stream and the vehicle commands
 * use it too. Each part subscribes with its own handler; messages are routed here by topic filter so that no
 * part sees another's traffic.
 */
export interface ApiMqtt {
  readonly client: MqttClient;
  readonly connected: boolean;
  /**
   * Resolves once the broker has the message: after its PUBACK at QoS 1. Throws `mqtt_unavailable` when
   * the connection is down or the broker does not answer within `timeoutMs` (default 5 s).
   */
  publish(
    topic: string,
    payload: string | Buffer,
    opts?: { qos?: 0 | 1; retain?: boolean; timeoutMs?: number },
  ): Promise<void>;
  /**
   * Routes messages matching `filter` to `handler` and subscribes on the broker (again after each
   * reconnection). Returns the function that removes it. Never waits for the broker, so a part can
   * subscribe while it is down.
   */
  subscribe(filter: string, handler: MessageHandler, opts?: { qos?: 0 | 1 }): () => void;
  /** Resolves once connected; rejects after `timeoutMs`. */
  waitConnected(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** MQTT 3.1.1 §4.7 topic filter matching; `+` and `#` do not match a first level that starts with `$` [MQTT-4.7.2-1]. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export interface ConnectApiMqttOptions {
  url: string;
  /** The service secret (resolveServiceSecret). */
  password: string;
  username?: string;
  log: Logger;
  clientId?: string;
}

/** Connects in the background and keeps reconnecting; nothing waits here, so the api starts with the broker down. */
export function connectApiMqtt(opts: ConnectApiMqttOptions): ApiMqtt {
  const client = mqtt.connect(opts.url, {
    username: opts.username ?? 'svc:api',
    password: opts.password,
    // Unique per process: two api instances with one client id would keep disconnecting each other.
    clientId:
      opts.clientId ??
      serviceClientId('svc:api', `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`),
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    // wrapMqttClient subscribes again itself on every connection, so a subscription asked for while the
    // broker was down is never lost with the connection attempt that carried it.
    resubscribe: false,
  });
  return wrapMqttClient(client, opts.log);
}

/** Wraps a client made elsewhere (tests, or a client with TLS options). */
export function wrapMqttClient(client: MqttClient, parentLog: Logger): ApiMqtt {
  const log = parentLog.child({ component: 'mqtt' });
  const routes = new Set<{ filter: string; handler: MessageHandler }>();
  const refCount = new Map<string, number>();
  const qosOf = new Map<string, 0 | 1>();
  let down = false;

  const brokerSubscribe = (filter: string) => {
    client.subscribe(filter, { qos: qosOf.get(filter) ?? 0 }, (err, granted) => {
      if (err) log.debug({ err: err.message, filter }, 'subscribe interrupted; retried on reconnection');
      else if (granted?.some((g) => g.qos === 128))
        log.error({ filter }, 'the broker refused the subscription');
    });
  };

  client.on('connect', () => {
    if (down) log.info('reconnected to the broker');
    else log.info('connected to the broker');
    down = false;
    for (const filter of refCount.keys()) brokerSubscribe(filter);
  });
  client.on('offline', () => {
    // One line per outage, not one per reconnect attempt.
    if (!down) log.warn('broker connection lost; reconnecting');
    down = true;
  });
  client.on('error', (err) => {
    if (down) log.debug({ err: err.message }, 'mqtt client error');
    else log.warn({ err: err.message }, 'mqtt client error');
  });
  client.on('message', (topic, payload) => {
    for (const r of routes) {
      if (!topicMatches(r.filter, topic)) continue;
      try {
        r.handler(topic, payload);
      } catch (err) {
        log.error({ err, topic: maskTopic(topic) }, 'mqtt message handler failed');
      }
    }
  });

  return {
    client,
    get connected() {
      return client.connected;
    },

    async publish(topic, payload, o = {}) {
      if (!client.connected) throw new ApiError('mqtt_unavailable');
      const timeoutMs = o.timeoutMs ?? 5000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new ApiError('mqtt_unavailable', `the broker did not acknowledge within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([
          client.publishAsync(topic, payload, { qos: o.qos ?? 1, retain: o.retain ?? false }),
          timeout,
        ]);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw new ApiError('mqtt_unavailable', `publish failed: ${(err as Error).message}`, { cause: err });
      } finally {
        clearTimeout(timer);
      }
    },

    subscribe(filter, handler, o = {}) {
      const route = { filter, handler };
      routes.add(route);
      const n = refCount.get(filter) ?? 0;
      refCount.set(filter, n + 1);
      if (n === 0) {
        client.subscribe(filter, { qos: o.qos ?? 0 }, (err, granted) => {
          if (err) log.error({ err: err.message, filter }, 'subscribe failed');
          else if (granted?.some((g) => g.qos === 128))
            log.error({ filter }, 'the broker refused the subscription');
        });
      }
      return () => {
        if (!routes.delete(route)) return;
        const left = (refCount.get(filter) ?? 1) - 1;
        if (left > 0) refCount.set(filter, left);
        else {
          refCount.delete(filter);
          qosOf.delete(filter);
          if (client.connected && !client.disconnecting && !client.disconnected) client.unsubscribe(filter);
        }
      };
    },

    waitConnected(timeoutMs = 10_000) {
      if (client.connected) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          client.off('connect', onConnect);
          reject(new Error(`not connected to the broker after ${timeoutMs} ms`));
        }, timeoutMs);
        const onConnect = () => {
          clearTimeout(timer);
          resolve();
        };
        client.once('connect', onConnect);
      });
    },

    async close() {
      routes.clear();
      // force: a broker that is down would otherwise hold shutdown until the connect timeout. One that is up
      // but does not answer (a clustered broker with Redis down acknowledges no UNSUBSCRIBE) gets 2 s to
      // acknowledge what is in flight, then the connection is dropped.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), 2000);
      });
      const ended = await Promise.race([
        client.endAsync(!client.connected).then(() => 'ended' as const),
        late,
      ]);
      clearTimeout(timer);
      if (ended === 'late') client.stream?.destroy();
    },
  };
}
