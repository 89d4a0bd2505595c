/**
 * `npm run bench:broker`: what the broker costs per message on ingest's path — kits publishing at QoS 1 and
 * one persistent QoS 1 subscriber that acknowledges every message (ingest, without the writing). Beside it,
 * in the same run and with the same clients, Mosquitto (unbounded queue) doing the same.
 *
 *   --messages=200000 --connections=20 --window=200 --rounds=3 --only=citytel,mosquitto --profile
 *   --hold=5000 --hold-ms=100   the subscriber holds its PUBACKs as ingest does: until that many messages
 *                               arrived or that long passed since the first held (default: acks at once)
 *
 * Prints messages/s and CPU µs per message of each broker (median of the rounds) and of the clients. The
 * clients are raw MQTT over TCP (publisher.ts, and the subscriber below), so nearly all the CPU is the
 * broker's. Mosquitto is C and single-threaded: the ratio says how far a Node broker is from it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { INGEST_SUBSCRIPTIONS } from '@citytel/contract';
import { resolveServiceSecret } from '@citytel/store';
import { benchArgs, num, ownCpu } from '../../ingest/bench/common.ts';
import { startMosquitto as startMosquittoProcess } from '../../ingest/bench/peers.ts';
import { type NodeProcess, spawnBroker } from '../../ingest/bench/processes.ts';
import { mainThreadProfile, summarizeProfile } from '../../ingest/bench/profile.ts';
import { encodeConnect, openPublishers, remainingLength, utf8Field } from '../../ingest/bench/publisher.ts';
import { benchDevices, workload } from '../../ingest/bench/workload.ts';
import { freePort } from '../../test/helpers/ports.ts';

const args = benchArgs(
  'npm run bench:broker -- [--messages=200000] [--connections=20] [--window=200] [--rounds=3] ' +
    '[--only=citytel,mosquitto] [--profile] [--top=16] [--hold=0] [--hold-ms=100]',
  {
    messages: { type: 'string', default: '200000' },
    connections: { type: 'string', default: '20' },
    window: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string', default: 'citytel,mosquitto' },
    profile: { type: 'boolean', default: false },
    top: { type: 'string', default: '16' },
    hold: { type: 'string', default: '0' },
    'hold-ms': { type: 'string', default: '100' },
  },
);
const MESSAGES = num('messages', args.messages);
const CONNECTIONS = num('connections', args.connections);
const WINDOW = num('window', args.window);
const ROUNDS = num('rounds', args.rounds);
const ONLY = new Set(String(args.only).split(','));
const PROFILE = args.profile === true;
const HOLD = num('hold', args.hold);
const HOLD_MS = num('hold-ms', args['hold-ms']);
const TOP = num('top', args.top);

/** SUBSCRIBE, packet id 1, every filter at QoS 1. */
function subscribePacket(filters: readonly string[]): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, 1]),
    ...filters.map((f) => Buffer.concat([utf8Field(f), Buffer.from([1])])),
  ]);
  return Buffer.concat([Buffer.from([0x82, ...remainingLength(body.length)]), body]);
}

interface Subscriber {
  received(): number;
  end(): Promise<void>;
}

/**
 * A persistent QoS 1 subscriber that acknowledges each PUBLISH as it is read: one write of PUBACKs per chunk
 * read, as a client that holds nothing back would. With HOLD, it keeps them back as ingest does until its
 * batch is written (HOLD messages or HOLD_MS), so the broker holds that many unacknowledged deliveries.
 */
function subscribe(url: string, clientId: string, username: string, password: string): Promise<Subscriber> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: u.hostname, port: Number(u.port), noDelay: true });
    let pending = Buffer.alloc(0);
    let count = 0;
    let subscribed = false;
    let held: number[] = [];
    let holdTimer: NodeJS.Timeout | undefined;
    const sendAcks = (ids: number[]) => {
      const out = Buffer.allocUnsafe(ids.length * 4);
      ids.forEach((id, k) => {
        out[k * 4] = 0x40;
        out[k * 4 + 1] = 2;
        out.writeUInt16BE(id, k * 4 + 2);
      });
      socket.write(out);
    };
    const release = () => {
      clearTimeout(holdTimer);
      holdTimer = undefined;
      const ids = held;
      held = [];
      if (ids.length) sendAcks(ids);
    };
    socket.once('connect', () => socket.write(encodeConnect(clientId, username, password, false)));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      const data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let at = 0;
      const acks: number[] = [];
      while (at < data.length) {
        let length = 0;
        let mult = 1;
        let i = at + 1;
        let complete = false;
        for (; i < data.length && i < at + 5; i++) {
          length += (data[i]! & 0x7f) * mult;
          mult *= 128;
          if ((data[i]! & 0x80) === 0) {
            complete = true;
            break;
          }
        }
        if (!complete || i + 1 + length > data.length) break;
        const type = data[at]! >> 4;
        const body = i + 1;
        if (type === 3) {
          const qos = (data[at]! >> 1) & 3;
          count++;
          if (qos > 0) {
            const topicLength = data.readUInt16BE(body);
            acks.push(data.readUInt16BE(body + 2 + topicLength));
          }
        } else if (type === 2) {
          if (data[body + 1] !== 0) reject(new Error(`CONNACK ${data[body + 1]}`));
          else socket.write(subscribePacket(INGEST_SUBSCRIPTIONS));
        } else if (type === 9 && !subscribed) {
          subscribed = true;
          resolve(subscriber);
        }
        at = body + length;
      }
      pending = Buffer.from(data.subarray(at));
      if (!acks.length) return;
      if (!HOLD) sendAcks(acks);
      else {
        for (const id of acks) held.push(id);
        if (held.length >= HOLD) release();
        else holdTimer ??= setTimeout(release, HOLD_MS);
      }
    });
    const subscriber: Subscriber = {
      received: () => count,
      end: () =>
        new Promise((r) => {
          release();
          socket.end(Buffer.from([0xe0, 0]), () => r());
        }),
    };
  });
}

interface BrokerUnderTest {
  name: string;
  url: string;
  proc: NodeProcess;
  username?: string;
  password?: string;
  subscriberUser: string;
  subscriberPassword: string;
}

async function startCitytel(dir: string, profileDir?: string): Promise<BrokerUnderTest> {
  const storeDir = join(dir, 'store');
  const secret = resolveServiceSecret(storeDir);
  const port = await freePort();
  const proc = await spawnBroker({ port, storeDir, serviceSecret: secret, profileDir });
  return {
    name: 'citytel broker (Aedes)',
    url: `mqtt://127.0.0.1:${port}`,
    proc,
    username: 'svc:sim',
    password: secret,
    subscriberUser: 'svc:ingest',
    subscriberPassword: secret,
  };
}

async function startMosquitto(dir: string): Promise<BrokerUnderTest> {
  const port = await freePort();
  const proc = startMosquittoProcess(dir, port, true);
  await proc.logged('running');
  return {
    name: 'Mosquitto (max_queued_messages 0)',
    url: `mqtt://127.0.0.1:${port}`,
    proc,
    subscriberUser: 'bench',
    subscriberPassword: 'bench',
  };
}

interface Round {
  seconds: number;
  perS: number;
  brokerUs: number;
  clientsUs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(b: BrokerUnderTest, perConnection: ReturnType<typeof workload>['perConnection']) {
  const sub = await subscribe(b.url, 'bench-relay-sub', b.subscriberUser, b.subscriberPassword);
  const publishers = await openPublishers({
    kind: 'lean',
    url: b.url,
    connections: CONNECTIONS,
    clientIdPrefix: 'bench-relay-pub-',
    username: b.username,
    password: b.password,
    window: WINDOW,
  });
  const messages = perConnection.reduce((n, l) => n + l.length, 0);
  const rounds: Round[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const publish = publishers.prepare(perConnection);
      const before = sub.received();
      const cpu0 = b.proc.cpu();
      const own0 = ownCpu();
      const t0 = performance.now();
      const failed = await publish();
      if (failed) throw new Error(`${b.name}: ${failed} publishes failed`);
      while (sub.received() - before < messages) {
        if (performance.now() - t0 > 120_000) throw new Error(`${b.name}: not all delivered in 120 s`);
        await sleep(2);
      }
      const seconds = (performance.now() - t0) / 1000;
      rounds.push({
        seconds,
        perS: messages / seconds,
        brokerUs: ((b.proc.cpu() - cpu0) / messages) * 1e6,
        clientsUs: ((ownCpu() - own0) / messages) * 1e6,
      });
    }
  } finally {
    await publishers.end();
    await sub.end();
  }
  return {
    name: b.name,
    rounds,
    perS: median(rounds.map((r) => r.perS)),
    brokerUs: median(rounds.map((r) => r.brokerUs)),
    clientsUs: median(rounds.map((r) => r.clientsUs)),
  };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'citytel-relay-'));
  const profileDir = PROFILE ? mkdtempSync(join(tmpdir(), 'citytel-relay-profiles-')) : undefined;
  const devices = benchDevices(1000);
  const w = workload({
    name: 'relay',
    devices,
    connections: CONNECTIONS,
    readingsPerDevice: Math.ceil(MESSAGES / devices.length),
    perMessage: 1,
    from: Date.now() - 86_400_000,
  });
  console.log(
    `${w.readings} QoS 1 messages (one native reading each) over ${CONNECTIONS} connections, ≤ ${WINDOW} unacknowledged each, to one persistent QoS 1 subscriber (${HOLD ? `acks held up to ${HOLD} messages or ${HOLD_MS} ms` : 'acks at once'}); ${ROUNDS} rounds`,
  );
  const results = [];
  try {
    for (const start of [
      ...(ONLY.has('citytel') ? [() => startCitytel(dir, profileDir)] : []),
      ...(ONLY.has('mosquitto') ? [() => startMosquitto(dir)] : []),
    ]) {
      const b = await start();
      try {
        results.push(await measure(b, w.perConnection));
      } finally {
        await b.proc.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
  console.table(
    results.map((r) => ({
      broker: r.name,
      'msgs/s (median)': Math.round(r.perS),
      'broker µs/msg': Math.round(r.brokerUs * 10) / 10,
      'clients µs/msg': Math.round(r.clientsUs * 10) / 10,
      rounds: r.rounds.map((x) => Math.round(x.perS)).join(' / '),
    })),
  );
  const [ours, mosquitto] = results;
  if (ours && mosquitto) {
    console.log(
      `citytel broker: ${(ours.perS / mosquitto.perS).toFixed(2)}× Mosquitto's messages/s, ${(ours.brokerUs / mosquitto.brokerUs).toFixed(2)}× its CPU per message`,
    );
  }
  if (profileDir) {
    const s = summarizeProfile(mainThreadProfile(join(profileDir, 'broker')), TOP);
    console.log(`\nbroker: main thread busy ${s.busyPct}% of ${s.totalMs} ms; busy time by place:`);
    console.table(s.byPlace);
    console.log('broker: functions with the most self time:');
    console.table(s.topFunctions);
    console.log('broker: functions with the most time in them and what they call:');
    console.table(s.topInclusive);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
