import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Broker, createBroker } from '@citytel/broker';
import { openStore, resolveServiceSecrets, type Store } from '@citytel/store';
import type { Client } from 'aedes';
import mqtt, { type IClientOptions, MqttClient } from 'mqtt';
import pino from 'pino';
import {
  Command,
  IPv6Address,
  IPv6ProxyAddress,
  TransportProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteAddressOf } from '../broker/src/connection.ts';
import { withOwnClientId } from './helpers/broker.ts';
import { tempDir } from './helpers/tmp.ts';

/**
 * Behind a TCP load balancer (deploy/haproxy.cfg, `send-proxy-v2`) the broker's proxied listener takes each
 * device's address from the PROXY protocol header, so the login slow-down still tells devices apart.
 * test/compose.test.ts runs the same path through a real HAProxy.
 */

const SERVICE_SECRET = 'test-service-secret';
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
let tmp: ReturnType<typeof tempDir>;
let store: Store;
let broker: Broker;
let proxyPort: number;
let wsPort: number;
let secret: string;

const clientNamed = (id: string) =>
  (broker.aedes as unknown as { clients: Record<string, Client> }).clients[id];
const v1 = (source: string) => Buffer.from(`PROXY TCP4 ${source} 127.0.0.1 40000 1884\r\n`, 'latin1');

/** An MQTT client whose TCP connection first sends `header`, as a load balancer does. */
function viaProxy(header: Uint8Array, opts: IClientOptions): MqttClient {
  return new MqttClient(
    () => {
      const socket = connect(proxyPort, '127.0.0.1');
      socket.write(header);
      return socket;
    },
    {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: 60,
      clean: true,
      ...withOwnClientId(opts),
    },
  );
}

/** The CONNACK code (0 accepted) of one connection through the proxied listener, and how long it took. */
async function attempt(header: Uint8Array, opts: IClientOptions): Promise<{ code: number; ms: number }> {
  const t = performance.now();
  const client = viaProxy(header, opts);
  const code = await new Promise<number>((resolve, reject) => {
    client.once('connect', () => resolve(0));
    client.once('error', (err: Error & { code?: number }) =>
      typeof err.code === 'number' ? resolve(err.code) : reject(err),
    );
    client.once('close', () => reject(new Error('closed without CONNACK')));
  });
  client.end(true);
  return { code, ms: performance.now() - t };
}

function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

beforeAll(async () => {
  tmp = tempDir('citytel-proxy-protocol-');
  store = await openStore({ dataDir: tmp.dir, log });
  secret = (await store.devices.create({ id: 'kit-1', kind: 'native', lat: 48.11, lon: -1.68 })).secret!;
  broker = createBroker({
    config: {
      MQTT_PORT: 0,
      MQTT_HOST: '127.0.0.1',
      MQTT_PROXY_PORT: 0,
      MQTT_WS_PORT: 0,
      MQTT_WS_TRUST_PROXY: true,
      STATS_INTERVAL_MS: 5000,
      BROKER_ID: 'proxied',
    },
    store,
    serviceSecrets: resolveServiceSecrets('', { MQTT_SERVICE_SECRET: SERVICE_SECRET }),
    log,
  });
  const ports = await broker.listen();
  proxyPort = ports.proxyPort!;
  wsPort = ports.wsPort!;
});

afterAll(async () => {
  await broker?.close();
  await store?.close();
  tmp?.cleanup();
});

describe('PROXY protocol listener', () => {
  it("takes the device's address from a v1 header", async () => {
    const client = viaProxy(v1('203.0.113.7'), { username: 'kit-1', password: secret, clientId: 'kit-1/v1' });
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    expect(remoteAddressOf(clientNamed('kit-1/v1'))).toBe('203.0.113.7');
    await client.publishAsync('sensors/kit-1/readings', '{"pm25":8.2}', { qos: 1 });
    await client.endAsync();
  });

  it("takes the device's address from a v2 header (IPv6), as HAProxy's send-proxy-v2 sends it", async () => {
    const header = new V2ProxyProtocol(
      Command.PROXY,
      TransportProtocol.STREAM,
      new IPv6ProxyAddress(
        IPv6Address.createFrom([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a]),
        40001,
        IPv6Address.createFrom([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        1884,
      ),
    ).build();
    const client = viaProxy(header, { username: 'kit-1', password: secret, clientId: 'kit-1/v2' });
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    expect(remoteAddressOf(clientNamed('kit-1/v2'))).toBe('2001:db8:0:0:0:0:0:2a');
    await client.endAsync();
  });

  it('slows down the address that failed, not every device behind the proxy', async () => {
    const wrong = { username: 'kit-1', password: 'wrong-secret' };
    const tries = [];
    for (let i = 0; i < 5; i++) tries.push(await attempt(v1('198.51.100.20'), wrong));
    expect(tries.map((t) => t.code)).toEqual([4, 4, 4, 4, 4]);
    expect(tries[4]!.ms - tries[0]!.ms).toBeGreaterThanOrEqual(500);

    // another device behind the same proxy is answered at once, and the throttled one still waits
    const other = await attempt(v1('198.51.100.21'), { username: 'kit-1', password: secret });
    expect(other.code).toBe(0);
    expect(other.ms).toBeLessThan(tries[0]!.ms + 400);
    const again = await attempt(v1('198.51.100.20'), wrong);
    expect(again.ms).toBeGreaterThanOrEqual(tries[0]!.ms + 400);
  });

  it('closes a connection that starts without a header, and counts it', async () => {
    const before = broker.stats().refusals.proxy_header;
    const socket = connect(proxyPort, '127.0.0.1');
    // an MQTT CONNECT straight away, as a device that bypassed the proxy would send
    socket.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c]));
    expect(await closedWithin(socket, 2000)).toBe(true);
    expect(broker.stats().refusals.proxy_header).toBe(before + 1);
  });

  it('closes a connection whose v1 header is malformed', async () => {
    const socket = connect(proxyPort, '127.0.0.1');
    socket.write('PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n');
    expect(await closedWithin(socket, 2000)).toBe(true);
  });
});

describe('WebSocket behind a reverse proxy', () => {
  it('takes the address the proxy appended to X-Forwarded-For, not what the client claimed', async () => {
    const client = await mqtt.connectAsync(`ws://127.0.0.1:${wsPort}`, {
      username: 'kit-1',
      password: secret,
      clientId: 'kit-1/ws',
      reconnectPeriod: 0,
      wsOptions: { headers: { 'X-Forwarded-For': '10.9.9.9, 203.0.113.99' } },
    });
    expect(remoteAddressOf(clientNamed('kit-1/ws'))).toBe('203.0.113.99');
    await client.endAsync();
    await sleep(10);
  });
});
