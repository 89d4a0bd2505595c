/**
 * `npm run bench:ingest`: readings from many kits through the real broker and ingest into a real influxd,
 * measured end to end (published → queryable), beside the raw InfluxDB ceiling for the same points.
 *
 *   --readings=200000 --readings-b=600000 --devices=1000              the workload ((b) and the ceiling:
 *   --connections=20 --window=200                                        readings-b)
 *   --only=baseline,a,b,peer,ceiling,puback,durable                   which parts run (default: all)
 *   --rounds=3                                                        (a) and the peer, alternately, medians compared
 *   --appendfsync=always|everysec                                     the durable log's fsync (default always)
 *   --profile                                                         broker and ingest under --cpu-prof
 *   --timeline                                                        ingest's figures second by second
 *   --ingest-env=INGEST_FLUSH_MS=200,...  --broker-env=...            knobs other than the defaults
 *   --publisher=lean|mqttjs                                           the load generator's MQTT client
 *
 * Device registrations (scrypt: ~50 ms each) are kept in $BENCH_DIR (default: the OS temp folder) between
 * runs; InfluxDB starts empty every time.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { STATS_SUBSCRIPTION, statsTopic, topics } from '@citytel/contract';
import { deriveServiceSecret, resolveServiceSecret } from '@citytel/store';
import mqtt, { type MqttClient } from 'mqtt';
import { startInfluxd } from '../../scripts/influxd.ts';
import { type AppendFsync, startRedisServer } from '../../scripts/redis-server.ts';
import { freePort } from '../../test/helpers/ports.ts';
import type { IngestStats } from '../src/stats.ts';
import { arg, count, influxPost, ownCpu, PROBE, pct, provision, query } from './common.ts';
import { ensureRedisServer } from './install.ts';
import { ingestPeer, nodeRedPeer, type Peer } from './peers.ts';
import { cpuSeconds, spawnBroker } from './processes.ts';
import { mainThreadProfile, summarizeProfile } from './profile.ts';
import { measurePuback } from './puback.ts';
import { openPublishers, type PublisherKind, type Publishers } from './publisher.ts';
import { benchDevices, type Workload, workload } from './workload.ts';

const READINGS = Number(arg('readings', '200000'));
/**
 * Workload (b) and the raw ceiling take more readings: at 100 readings a message 200 000 readings last a
 * second or two, too short to be more than the first batches' ramp-up and the machine's noise.
 */
const READINGS_B = Number(arg('readings-b', '600000'));
const DEVICES = Number(arg('devices', '1000'));
const CONNECTIONS = Number(arg('connections', '20'));
const WINDOW = Number(arg('window', '200'));
const ONLY = new Set(arg('only', 'baseline,a,b,peer,ceiling,puback,durable').split(','));
/**
 * The durable one-machine mode `npm start` runs (a private redis-server with its append-only file; the
 * broker appends each accepted message to the ingest stream before its PUBACK, BROKER_EMITTER=memory;
 * ingest reads the stream): (a) again in it each round, so its cost is a ratio within the same run.
 */
const APPENDFSYNC = arg('appendfsync', 'always') as AppendFsync;
/** (a) and the peer run this many times, alternately; their medians are compared. */
const ROUNDS = Number(arg('rounds', '3'));
const PROFILE = process.argv.includes('--profile');
const TIMELINE = process.argv.includes('--timeline');
const PUBLISHER = arg('publisher', 'lean') as PublisherKind;
/** `--ingest-env=INGEST_FLUSH_MS=200,INGEST_GZIP_BYTES=0`: knobs for ingest, to try them against the defaults. */
const envArg = (name: string): Record<string, string> =>
  Object.fromEntries(
    arg(name, '')
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
const INGEST_ENV = envArg('ingest-env');
const BROKER_ENV = envArg('broker-env');
const DB = 'bench';
interface Result {
  name: string;
  readings: number;
  seconds: number;
  readingsPerS: number;
  messagesPerS?: number;
  lost: number;
  p50?: number | null;
  p99?: number | null;
  note?: string;
  cpu?: string;
  wallSeconds?: number;
  /** Which round of (a) and the peer this was (1 for everything else). */
  round?: number;
}

async function main() {
  const benchDir = process.env.BENCH_DIR ?? join(tmpdir(), 'citytel-bench');
  const storeDir = join(benchDir, 'store');
  const influxDir = mkdtempSync(join(tmpdir(), 'citytel-bench-influx-'));
  const profileDir = PROFILE ? join(benchDir, `profiles-${Date.now()}`) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const results: Result[] = [];
  const cleanups: Array<() => Promise<unknown> | unknown> = [
    () => rmSync(influxDir, { recursive: true, force: true }),
  ];

  try {
    console.log(
      `workload: ${READINGS} readings ((b) and the ceiling: ${READINGS_B}) from ${DEVICES} kits over ${CONNECTIONS} connections`,
    );
    const devices = benchDevices(DEVICES);
    await provision(storeDir, devices);
    const serviceSecret = resolveServiceSecret(storeDir, 'svc:api');

    const influx = await startInfluxd({
      dir: influxDir,
      httpPort: await freePort(),
      rpcPort: await freePort(),
      database: DB,
    });
    cleanups.unshift(() => influx.stop());
    await influxPost(influx.url, '/query', new URLSearchParams({ q: 'CREATE DATABASE ceiling_gz' }));

    const now = Date.now();
    const day = 86_400_000;
    const perDevice = Math.ceil(READINGS / DEVICES);
    const scenarios: Array<{ key: string; w: Workload; probeBase: number }> = [
      {
        key: 'a',
        w: workload({
          name: '(a) 1 reading/message, QoS 1',
          devices,
          connections: CONNECTIONS,
          readingsPerDevice: perDevice,
          perMessage: 1,
          from: now - 3 * day,
        }),
        probeBase: now - 3.5 * day,
      },
      {
        key: 'b',
        w: workload({
          name: '(b) 100 readings/message, QoS 1',
          devices,
          connections: CONNECTIONS,
          readingsPerDevice: Math.ceil(READINGS_B / DEVICES),
          perMessage: 100,
          from: now - 2 * day,
        }),
        probeBase: now - 2.5 * day,
      },
    ];

    const ours = async (round: number, durable = false) => {
      const db = `${DB}${durable ? '_durable' : ''}${round > 0 ? `_r${round + 1}` : ''}`;
      if (round > 0 || durable)
        await influxPost(influx.url, '/query', new URLSearchParams({ q: `CREATE DATABASE ${db}` }));
      // Later rounds and the durable mode repeat (a) only, to set its figure against the peer's of the round.
      const parts = round === 0 && !durable ? ONLY : new Set(['a']);
      let durableEnv: Record<string, string> = {};
      let redisPid: number | undefined;
      if (durable) {
        ensureRedisServer();
        const redisDir = mkdtempSync(join(tmpdir(), 'citytel-bench-redis-'));
        const redis = await startRedisServer({
          dir: redisDir,
          port: await freePort(),
          appendfsync: APPENDFSYNC,
        });
        cleanups.unshift(async () => {
          await redis.stop();
          rmSync(redisDir, { recursive: true, force: true });
        });
        durableEnv = { REDIS_URL: redis.url };
        redisPid = redis.process.pid;
      }
      const port = await freePort();
      const broker = await spawnBroker({
        port,
        storeDir,
        serviceSecret,
        env: { ...BROKER_ENV, ...durableEnv, ...(durable ? { BROKER_EMITTER: 'memory' } : {}) },
        profileDir: round === 0 && !durable ? profileDir : undefined,
      });
      cleanups.unshift(() => broker.stop());
      const mqttUrl = `mqtt://127.0.0.1:${port}`;
      if (parts.has('baseline')) {
        console.log('running the broker baseline...');
        results.push(...(await baseline(mqttUrl, serviceSecret, scenarios[0]!.w)));
      }
      const peer: Peer = ingestPeer({ ...INGEST_ENV, ...durableEnv });
      await peer.start({
        mqttUrl,
        serviceSecret,
        dataDir: storeDir,
        influxUrl: influx.url,
        db,
        profileDir: round === 0 && !durable ? profileDir : undefined,
      });
      cleanups.unshift(() => peer.stop());
      const stats = await watchStats(mqttUrl, serviceSecret);
      cleanups.unshift(() => stats.client.endAsync(true));
      const publishers = await openPublishers({
        kind: PUBLISHER,
        url: mqttUrl,
        connections: CONNECTIONS,
        clientIdPrefix: 'svc:sim/bench-pub-',
        username: 'svc:sim',
        password: deriveServiceSecret(serviceSecret, 'svc:sim'),
        window: WINDOW,
      });
      cleanups.unshift(() => publishers.end());
      const probe = await mqtt.connectAsync(mqttUrl, {
        username: 'svc:sim',
        password: deriveServiceSecret(serviceSecret, 'svc:sim'),
        clientId: 'svc:sim/bench-probe',
        reconnectPeriod: 0,
      });
      cleanups.unshift(() => probe.endAsync(true));

      const cpu = () => ({
        broker: broker.cpu(),
        ...(redisPid ? { 'redis-server': cpuSeconds(redisPid) } : {}),
        ingest: peer.cpu(),
        influxd: cpuSeconds(influx.process.pid),
        publishers: ownCpu(),
      });
      for (const s of scenarios.filter((s) => parts.has(s.key))) {
        console.log(`running ${s.w.name}...`);
        const loadFrom = performance.now() + 3000;
        const r = await runScenario(s.w, publishers, probe, s.probeBase, influx.url, db, cpu);
        r.round = round + 1;
        if (durable) r.name = `${r.name}, durable (redis-server AOF, appendfsync ${APPENDFSYNC})`;
        if (TIMELINE) console.log(stats.timeline(loadFrom));
        const st = stats.latest();
        if (st) {
          r.note =
            `${r.note}; under load: batches p50 ${st.batch_lines.p50} / max ${st.batch_lines.max} points, write p50 ${st.write_ms.p50} ms / p99 ${st.write_ms.p99} ms, ` +
            `held back ${Math.round(st.mqtt_paused_ms / 100) / 10} s in total`;
        }
        results.push(r);
      }
      await peer.stop();
      await broker.stop();
    };

    const peerRound = async (unbounded: boolean, round: number) => {
      const w = scenarios[0]!.w;
      {
        const db = `${unbounded ? 'peer_unbounded' : 'peer_default'}${round > 0 ? `_r${round + 1}` : ''}`;
        await influxPost(influx.url, '/query', new URLSearchParams({ q: `CREATE DATABASE ${db}` }));
        const peer = nodeRedPeer({ unbounded });
        console.log(`running ${w.name} through ${peer.name}...`);
        // Stopped however the start ends: a Mosquitto left behind would outlive the bench.
        cleanups.unshift(() => peer.stop());
        await peer.start({ mqttUrl: '', serviceSecret, dataDir: storeDir, influxUrl: influx.url, db });
        const publishers = await openPublishers({
          kind: PUBLISHER,
          url: peer.brokerUrl!(),
          connections: CONNECTIONS,
          clientIdPrefix: 'bench-peer-pub-',
          window: WINDOW,
        });
        const probe = await mqtt.connectAsync(peer.brokerUrl!(), {
          clientId: 'bench-peer-probe',
          reconnectPeriod: 0,
        });
        try {
          const r = await runScenario(w, publishers, probe, scenarios[0]!.probeBase, influx.url, db, () => ({
            'node-red': peer.cpu(),
            mosquitto: peer.brokerCpu?.() ?? 0,
            influxd: cpuSeconds(influx.process.pid),
            publishers: ownCpu(),
          }));
          r.name = `peer: ${peer.name}, ${w.name.replace(/^\(a\) /, '')}`;
          r.round = round + 1;
          results.push(r);
        } finally {
          await Promise.all([publishers.end(), probe.endAsync(true)]);
          await peer.stop();
        }
      }
    };

    // (a) and the peer take turns, ROUNDS times: the machine's speed drifts by tens of percent within a
    // minute here (other tenants on the host), so the ratio is of the medians of rounds run side by side.
    const rawCeiling = async () => {
      console.log('running the raw InfluxDB ceiling...');
      // The points of workload (b), as ingest writes them.
      const w = scenarios[1]!.w;
      const lines = w.lines();
      // A run of the ceiling lasts a second or two, so one run is at the mercy of whatever else the machine
      // does in that second: it runs three times, each into an empty database, and the median counts.
      const runs: Result[] = [];
      for (let i = 1; i <= 3; i++) {
        // A database of its own each time (a write right after DROP + CREATE of one name can meet a 404).
        await influxPost(influx.url, '/query', new URLSearchParams({ q: `CREATE DATABASE ceiling_${i}` }));
        runs.push(await ceiling(influx.url, influx.process.pid, lines, w, false, `ceiling_${i}`));
      }
      const median = [...runs].sort((a, b) => a.readingsPerS - b.readingsPerS)[1]!;
      median.note = `median of 3 runs: ${runs.map((r) => r.readingsPerS).join(' / ')} readings/s`;
      results.push(median);
      results.push(await ceiling(influx.url, influx.process.pid, lines, w, true, 'ceiling_gz'));
    };

    for (let round = 0; round < ROUNDS; round++) {
      if (round === 0 ? ONLY.has('a') || ONLY.has('b') || ONLY.has('baseline') : ONLY.has('a'))
        await ours(round);
      if (ONLY.has('durable')) await ours(round, true);
      // Right after (b), whose points it sends: the same InfluxDB, as busy with what came before.
      if (round === 0 && ONLY.has('ceiling')) await rawCeiling();
      if (ONLY.has('peer')) await peerRound(true, round);
    }
    // With Mosquitto's default limits the peer loses most of the burst: once is enough to show it.
    if (ONLY.has('peer')) await peerRound(false, 0);

    if (ONLY.has('puback')) {
      console.log('measuring held PUBACKs...');
      results.push(...(await measurePuback(serviceSecret, storeDir)));
    }
  } finally {
    for (const c of cleanups) await c();
  }

  console.log('\nresults');
  console.table(
    results.map((r) => ({
      run: ROUNDS > 1 && r.round ? `${r.name} #${r.round}` : r.name,
      readings: r.readings,
      s: r.seconds,
      'readings/s': r.readingsPerS,
      'msgs/s': r.messagesPerS ?? '',
      lost: r.lost,
      'p50 ms': r.p50 ?? '',
      'p99 ms': r.p99 ?? '',
    })),
  );
  const find = (test: (name: string) => boolean) => results.find((r) => test(r.name));
  const medianOf = (rs: Result[]) => {
    const sorted = rs.map((r) => r.readingsPerS).sort((x, y) => x - y);
    return sorted.length % 2
      ? sorted[(sorted.length - 1) / 2]!
      : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  };
  const aRuns = results.filter((r) => r.name.startsWith('(a)') && !r.name.includes('durable'));
  const durableRuns = results.filter((r) => r.name.startsWith('(a)') && r.name.includes('durable'));
  const peerRuns = results.filter((r) => r.name.includes('max_queued_messages 0'));
  const b = find((n) => n.startsWith('(b)'));
  const raw = find((n) => n.startsWith('raw InfluxDB') && !n.includes('gzip'));
  if (aRuns.length && peerRuns.length) {
    const lost = aRuns.reduce((n, r) => n + r.lost, 0);
    const perRound = aRuns
      .map((a) => {
        const p = peerRuns.find((p) => p.round === a.round);
        return p ? `${(a.readingsPerS / p.readingsPerS).toFixed(2)}` : undefined;
      })
      .filter(Boolean);
    console.log(
      `(a) against the peer (unbounded queue): ${(medianOf(aRuns) / medianOf(peerRuns)).toFixed(2)}× its readings/s, median of ${aRuns.length} against median of ${peerRuns.length} (target ≥ 2; round by round ${perRound.join(' / ')}), ${lost} lost in all (target 0)`,
    );
  }
  if (durableRuns.length && peerRuns.length) {
    const lost = durableRuns.reduce((n, r) => n + r.lost, 0);
    console.log(
      `(a) durable (appendfsync ${APPENDFSYNC}) against the peer: ${(medianOf(durableRuns) / medianOf(peerRuns)).toFixed(2)}× its readings/s (target ≥ 2), ${lost} lost in all (target 0)`,
    );
  }
  if (durableRuns.length && aRuns.length) {
    const perRound = durableRuns
      .map((d) => {
        const a = aRuns.find((a) => a.round === d.round);
        return a ? (d.readingsPerS / a.readingsPerS).toFixed(2) : undefined;
      })
      .filter(Boolean);
    console.log(
      `cost of durability: (a) durable runs at ${(medianOf(durableRuns) / medianOf(aRuns)).toFixed(2)} of (a) in memory's readings/s (medians; round by round ${perRound.join(' / ')})`,
    );
  }
  if (b && raw)
    console.log(
      `(b) against the raw ceiling: ${(b.readingsPerS / raw.readingsPerS).toFixed(2)} of its readings/s (target ≥ 0.5)`,
    );
  for (const r of results.filter((r) => r.note || r.cpu)) {
    console.log(`${r.name}:`);
    if (r.note) console.log(`  ${r.note}`);
    if (r.cpu) console.log(`  ${r.cpu}`);
  }
  if (profileDir) {
    for (const name of ['broker', 'ingest']) {
      const s = summarizeProfile(mainThreadProfile(join(profileDir, name)));
      console.log(`\n${name}: main thread busy ${s.busyPct}% of ${s.totalMs} ms; busy time by place:`);
      console.table(s.byPlace);
      console.log(`${name}: functions with the most self time:`);
      console.table(s.topFunctions);
    }
    console.log(`profiles: ${profileDir} (open in Chrome DevTools)`);
  }
}

/**
 * Publishes the workload and watches InfluxDB. Latency comes from a probe kit publishing messages of the
 * same shape every 20 ms through the same broker and ingest, polled until each is queryable.
 */
async function runScenario(
  w: Workload,
  publishers: Publishers,
  probe: MqttClient,
  probeBase: number,
  influxUrl: string,
  db: string,
  cpu: () => Record<string, number>,
): Promise<Result & { wallSeconds: number }> {
  const started = performance.now();
  const perMessage = w.perConnection[0]?.[0]?.readings ?? 1;
  const sent: Array<{ at: number; lastTs: number }> = [];
  const latencies: number[] = [];
  const idle: number[] = [];
  let t0 = Number.POSITIVE_INFINITY;
  let probing = true;
  const prober = (async () => {
    for (let seq = 0; probing; seq++) {
      const readings = Array.from({ length: perMessage }, (_, k) => ({
        ts: new Date(probeBase + seq * perMessage + k).toISOString(),
        pm25: k,
      }));
      sent.push({ at: performance.now(), lastTs: probeBase + seq * perMessage + perMessage - 1 });
      probe.publish(
        topics.sensorReadings(PROBE),
        JSON.stringify(perMessage === 1 ? readings[0] : { readings }),
        { qos: 1 },
      );
      await sleep(20);
    }
  })();
  let seen = probeBase - 1;
  let measured = 0;
  const poller = (async () => {
    while (probing || measured < sent.length) {
      const rows = await query(
        influxUrl,
        `SELECT pm25 FROM readings WHERE device='${PROBE}' AND time > ${seen}ms AND time < ${probeBase + 3_600_000}ms`,
        db,
      );
      const t = performance.now();
      for (const row of rows) seen = Math.max(seen, row[0] as number);
      while (measured < sent.length && sent[measured]!.lastTs <= seen) {
        const m = sent[measured++]!;
        // The first half second warms up (first lookups, a new InfluxDB shard): not an idle pipeline's figure.
        if (m.at >= t0) latencies.push(t - m.at);
        else if (m.at > started + 500) idle.push(t - m.at);
      }
      if (!probing && t - sent[sent.length - 1]!.at > 30_000) break;
      // As often as the probe sends: finer would only add queries to the InfluxDB under test.
      await sleep(20);
    }
  })();

  const publish = publishers.prepare(w.perConnection);
  // Three seconds of probes alone first: the latency of an idle pipeline, beside the one under load.
  await sleep(3000);
  const cpuBefore = cpu();
  t0 = performance.now();
  const errors = await publish();
  const published = performance.now();
  const messages = w.perConnection.reduce((n, list) => n + list.length, 0);
  let counted = 0;
  let last = { n: -1, at: performance.now() };
  let doneAt = published;
  for (;;) {
    counted = await count(influxUrl, db, w.from, w.to);
    const t = performance.now();
    if (counted >= w.readings) {
      doneAt = t;
      break;
    }
    if (counted !== last.n) last = { n: counted, at: t };
    else if (t - last.at > 15_000) break; // no progress for 15 s: what is missing is lost
    // Each count scans every point so far, in the InfluxDB under test: seldom until the end is near, then
    // often, for the end time's sake.
    await sleep(counted < 0.95 * w.readings ? 500 : 50);
  }
  const cpuAfter = cpu();
  const cpuSeconds = (performance.now() - t0) / 1000;
  probing = false;
  await prober;
  await poller;
  const seconds = (doneAt - t0) / 1000;
  // Cores under load depend on what else the machine runs; CPU time per message much less so.
  const cores = Object.entries(cpuAfter)
    .map(([k, v]) => {
      const used = v - (cpuBefore[k] ?? 0);
      return `${k} ${(used / cpuSeconds || 0).toFixed(2)} (${Math.round((used / messages) * 1e6)} µs/msg)`;
    })
    .join(', ');
  latencies.sort((a, b) => a - b);
  idle.sort((a, b) => a - b);
  if (errors) console.log(`  ${errors} publishes failed`);
  return {
    name: w.name,
    readings: w.readings,
    seconds: Math.round(seconds * 10) / 10,
    readingsPerS: Math.round(counted / seconds),
    messagesPerS: Math.round(messages / seconds),
    lost: w.readings - counted,
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
    note: `idle pipeline: p50 ${pct(idle, 0.5)} ms, p99 ${pct(idle, 0.99)} ms`,
    cpu: `cores used under load (of ${availableParallelism()}, from the first publish to the last reading counted): ${cores}`,
    wallSeconds: (performance.now() - started) / 1000,
  };
}

/**
 * Workload (a) into the broker with nobody subscribed, then to one QoS 1 subscriber that acknowledges at
 * once (MQTT.js as it comes) and writes nothing: what the broker takes, and what it delivers to a single
 * connection — the reference for ingest, which is one such connection.
 */
async function baseline(mqttUrl: string, serviceSecret: string, w: Workload): Promise<Result[]> {
  const publishers = await openPublishers({
    kind: PUBLISHER,
    url: mqttUrl,
    connections: w.perConnection.length,
    clientIdPrefix: 'svc:sim/bench-base-',
    username: 'svc:sim',
    password: deriveServiceSecret(serviceSecret, 'svc:sim'),
    window: WINDOW,
  });
  const messages = w.perConnection.reduce((n, list) => n + list.length, 0);
  const results: Result[] = [];
  for (const withSubscriber of [false, true]) {
    const sub = withSubscriber
      ? await mqtt.connectAsync(mqttUrl, {
          username: 'svc:api',
          password: deriveServiceSecret(serviceSecret, 'svc:api'),
          clientId: 'svc:api/bench-baseline',
          reconnectPeriod: 0,
        })
      : undefined;
    let got = 0;
    sub?.on('message', () => got++);
    await sub?.subscribeAsync('sensors/+/readings', { qos: 1 });
    const publish = publishers.prepare(w.perConnection);
    const t0 = performance.now();
    await publish();
    if (sub) while (got < messages && performance.now() - t0 < 300_000) await sleep(10);
    else got = messages;
    const seconds = (performance.now() - t0) / 1000;
    await sub?.endAsync(true);
    results.push({
      name: sub
        ? 'broker → 1 QoS 1 subscriber acking at once (no InfluxDB)'
        : 'broker alone: QoS 1 publishes, no subscriber',
      readings: messages,
      seconds: Math.round(seconds * 10) / 10,
      readingsPerS: Math.round(got / seconds),
      messagesPerS: Math.round(got / seconds),
      lost: messages - got,
    });
  }
  await publishers.end();
  return results;
}

/** The same points posted straight to /write: what InfluxDB itself takes on this machine. */
async function ceiling(
  influxUrl: string,
  influxPid: number | undefined,
  lines: string[],
  w: Workload,
  gzip: boolean,
  db: string,
): Promise<Result> {
  const batch = 5000;
  const concurrency = 4;
  const bodies: Buffer[] = [];
  for (let i = 0; i < lines.length; i += batch) {
    const body = Buffer.from(lines.slice(i, i + batch).join('\n'));
    bodies.push(gzip ? gzipSync(body) : body);
  }
  const pid = influxPid;
  const cpu0 = cpuSeconds(pid);
  const own0 = ownCpu();
  const t0 = performance.now();
  let next = 0;
  // node:http with kept-alive connections, as ingest's client sends: fetch (undici) took a core of its own
  // to send the uncompressed bodies, so the ceiling measured the sender more than InfluxDB.
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL(`${influxUrl}/write?db=${db}&precision=ns`);
  const post = (body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          agent,
          headers: {
            'Content-Length': body.length,
            'Content-Type': 'text/plain; charset=utf-8',
            ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            res.statusCode === 204
              ? resolve()
              : reject(new Error(`ceiling write: ${res.statusCode} ${Buffer.concat(chunks).toString()}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < bodies.length) await post(bodies[next++]!);
      }),
    );
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - t0) / 1000;
  const used = cpuSeconds(pid) - cpu0;
  const sender = ownCpu() - own0;
  const counted = await count(influxUrl, db, w.from, w.to);
  return {
    name: `raw InfluxDB /write, ${batch} lines × ${concurrency} in parallel${gzip ? ', gzip (compressed beforehand)' : ''}`,
    readings: lines.length,
    seconds: Math.round(seconds * 10) / 10,
    readingsPerS: Math.round(lines.length / seconds),
    lost: lines.length - counted,
    cpu:
      `cores used: influxd ${(used / seconds).toFixed(2)} (${((used / lines.length) * 1e6).toFixed(1)} µs/point), ` +
      `sender ${(sender / seconds).toFixed(2)}`,
  };
}

/** The latest figures ingest published on its stats topic. */
async function watchStats(mqttUrl: string, serviceSecret: string) {
  const client = await mqtt.connectAsync(mqttUrl, {
    username: 'svc:api',
    password: deriveServiceSecret(serviceSecret, 'svc:api'),
    clientId: 'svc:api/bench-stats',
    reconnectPeriod: 0,
  });
  let latest: IngestStats | undefined;
  const history: Array<{ at: number; s: IngestStats }> = [];
  client.on('message', (topic, payload) => {
    if (topic !== statsTopic('ingest', 'bench')) return;
    latest = JSON.parse(payload.toString()) as IngestStats;
    history.push({ at: performance.now(), s: latest });
  });
  await client.subscribeAsync(STATS_SUBSCRIPTION, { qos: 0 });
  return {
    client,
    latest: () => latest,
    /** Ingest's figures second by second since `from` (performance.now()): where a run stalls. */
    timeline(from: number): string {
      const rows = history.filter((h) => h.at >= from - 1000);
      const out = ['  s    recv/s  written/s  held msgs  backlog pts  paused  write p50 ms'];
      for (let i = 1; i < rows.length; i++) {
        const a = rows[i - 1]!;
        const b = rows[i]!;
        const dt = (b.at - a.at) / 1000;
        out.push(
          [
            ((b.at - from) / 1000).toFixed(1).padStart(5),
            String(Math.round((b.s.received - a.s.received) / dt)).padStart(8),
            String(Math.round((b.s.points_written - a.s.points_written) / dt)).padStart(10),
            String(b.s.backlog_messages).padStart(10),
            String(b.s.backlog_points).padStart(12),
            `${Math.round((b.s.mqtt_paused_ms - a.s.mqtt_paused_ms) / dt / 10)}%`.padStart(7),
            String(b.s.write_ms.p50).padStart(13),
          ].join(''),
        );
      }
      return out.join('\n');
    },
  };
}

await main();
