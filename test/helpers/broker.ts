import { type Broker, createBroker, type LoginThrottleOptions } from '@citytel/broker';
import { openStore, resolveServiceSecrets, type Store } from '@citytel/store';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { tempDir } from './tmp.ts';

export interface TestBroker {
  broker: Broker;
  store: Store;
  dataDir: string;
  port: number;
  url: string;
  wsUrl?: string;
  tlsUrl?: string;
  /** The PROXY protocol listener, with `behindProxy`. */
  proxyPort?: number;
  serviceSecret: string;
  /** Closes the broker and the store and removes the data directory. */
  stop(): Promise<void>;
}

/**
 * A real broker on a free loopback port with a real store in a temporary DATA_DIR. Logs are silent
 * unless TEST_LOG_LEVEL is set. `store` may be shared with another test broker.
 */
export async function startTestBroker(
  options: {
    ws?: boolean;
    /** PEM file paths: also listen for MQTT over TLS. */
    tls?: { certFile: string; keyFile: string };
    throttle?: Partial<LoginThrottleOptions>;
    statsIntervalMs?: number;
    brokerId?: string;
    /** As behind a load balancer: a PROXY protocol listener, and X-Forwarded-For believed on WebSocket. */
    behindProxy?: boolean;
    store?: Store;
    /** svc:sim may log in (the default here, as the demo and the older tests have it). */
    allowSim?: boolean;
    maxConnectionsPerDevice?: number;
    revocationPollMs?: number;
    redisUrl?: string;
  } = {},
): Promise<TestBroker> {
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const tmp = tempDir('citytel-broker-');
  const store = options.store ?? (await openStore({ dataDir: tmp.dir, log }));
  const serviceSecret = 'test-service-secret';
  const broker = createBroker({
    config: {
      MQTT_PORT: 0,
      MQTT_HOST: '127.0.0.1',
      MQTT_WS_PORT: options.ws ? 0 : undefined,
      MQTT_TLS_PORT: options.tls ? 0 : undefined,
      MQTT_TLS_CERT: options.tls?.certFile,
      MQTT_TLS_KEY: options.tls?.keyFile,
      MQTT_PROXY_PORT: options.behindProxy ? 0 : undefined,
      MQTT_WS_TRUST_PROXY: options.behindProxy ?? false,
      STATS_INTERVAL_MS: options.statsIntervalMs ?? 5000,
      BROKER_ID: options.brokerId ?? `test-${process.pid}`,
      MQTT_ALLOW_SIM: options.allowSim ?? true,
      MQTT_MAX_CONNECTIONS_PER_DEVICE: options.maxConnectionsPerDevice,
      REVOCATION_POLL_MS: options.revocationPollMs,
      REDIS_URL: options.redisUrl,
    },
    store,
    serviceSecrets: resolveServiceSecrets('', { MQTT_SERVICE_SECRET: serviceSecret }),
    log,
    ...(options.throttle ? { throttle: options.throttle } : {}),
  });
  const ports = await broker.listen();
  return {
    broker,
    store,
    dataDir: tmp.dir,
    port: ports.port,
    url: `mqtt://127.0.0.1:${ports.port}`,
    ...(ports.wsPort !== undefined ? { wsUrl: `ws://127.0.0.1:${ports.wsPort}` } : {}),
    ...(ports.tlsPort !== undefined ? { tlsUrl: `mqtts://127.0.0.1:${ports.tlsPort}` } : {}),
    ...(ports.proxyPort !== undefined ? { proxyPort: ports.proxyPort } : {}),
    serviceSecret,
    async stop() {
      await broker.close();
      if (!options.store) await store.close();
      tmp.cleanup();
    },
  };
}

const quiet: IClientOptions = { reconnectPeriod: 0, connectTimeout: 10_000 };

/**
 * The options with a client id that follows the client-id rule (CONTRACT §1) when none is given: the
 * username and a random suffix, as a device running several connections would choose.
 */
export function withOwnClientId(opts: IClientOptions): IClientOptions {
  if (opts.clientId !== undefined || !opts.username) return opts;
  return { ...opts, clientId: `${opts.username}/t-${Math.random().toString(36).slice(2, 10)}` };
}

/** A connected MQTT client that does not reconnect by itself. */
export function brokerClient(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { ...quiet, ...withOwnClientId(opts) }, false);
}

/** The CONNACK return code the broker answers these options with (0 = accepted; the client is closed). */
export function connackCode(url: string, opts: IClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { ...quiet, ...withOwnClientId(opts) });
    client.once('connect', () => {
      client.end(true);
      resolve(0);
    });
    client.once('error', (err: Error & { code?: number }) => {
      client.end(true);
      if (typeof err.code === 'number') resolve(err.code);
      else reject(err);
    });
    client.once('close', () => reject(new Error('closed without CONNACK')));
  });
}

/** Resolves when the broker has closed the client's connection. */
export function closedByBroker(client: MqttClient, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (client.disconnected || !client.connected) {
      resolve();
      return;
    }
    const timer = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  qos: number;
}

/** Every message a client receives, in order, with a way to wait for the next matching one. */
export function messageLog(client: MqttClient) {
  const all: Received[] = [];
  const waiters: Array<{ match(m: Received): boolean; resolve(m: Received): void }> = [];
  client.on('message', (topic, payload, packet) => {
    const m = { topic, payload, retain: packet.retain, qos: packet.qos };
    all.push(m);
    for (const w of waiters.splice(0)) {
      if (w.match(m)) w.resolve(m);
      else waiters.push(w);
    }
  });
  return {
    all,
    next(match: (m: Received) => boolean = () => true, timeoutMs = 5000): Promise<Received> {
      const seen = all.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching message')), timeoutMs);
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
  };
}

/**
 * The return codes of a SUBACK, in the order of `filters`: the granted QoS, or 128 (0x80) for a refused
 * filter. mqtt.js rejects a subscription with any 0x80 in it; the codes travel on the error.
 */
export async function subackCodes(client: MqttClient, filters: string[], qos: 0 | 1 | 2): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filters, { qos });
    return granted.map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (granted) return granted;
    throw err;
  }
}
