import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { topics } from '@citytel/contract';
import { openStore } from '@citytel/store';
import mqtt, { type MqttClient } from 'mqtt';
import { freePort } from '../../test/helpers/ports.ts';
import type { AppendFsync } from '../redis-server.ts';
import { type DurableStack, PARTS, type Part, startDurableStack } from './stack.ts';

/**
 * The chaos run: kits publish readings at QoS 1 through the durable one-machine set-up while the broker,
 * ingest, influxd and redis-server are SIGKILLed at random moments and started again. At the end every
 * reading a kit got a PUBACK for is looked for in InfluxDB: per kit, how many were accepted, stored, lost
 * (accepted, not stored) and doubled (stored more than once, or under a time no reading had).
 */
export interface ChaosOptions {
  seconds: number;
  kits?: number;
  /** Messages a second per kit (one reading each). */
  rate?: number;
  /** Pause between one part's restart and the next kill, at random in [min, max] ms. */
  calmMs?: [number, number];
  /** How long a killed part stays down, at random in [min, max] ms. */
  downMs?: [number, number];
  appendfsync?: AppendFsync;
  /** One line now and then, and at the end. */
  progress?: (line: string) => void;
}

export interface KitTally {
  kit: string;
  accepted: number;
  stored: number;
  lost: number;
  doubled: number;
  /** Stored without a PUBACK seen: appended, then the broker died before it answered (at least once). */
  unacknowledged: number;
}

export interface ChaosResult {
  seconds: number;
  kills: Record<Part, number>;
  kits: KitTally[];
  accepted: number;
  stored: number;
  lost: number;
  doubled: number;
  unacknowledged: number;
}

// Device times one per second from two days ago, on the hour: inside the age ingest takes a device's time
// for (7 days by default; an older one is replaced by the broker's, and the reading no longer found by it).
const T0 = Math.floor((Date.now() - 2 * 86_400_000) / 3_600_000) * 3_600_000;

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const kitCount = opts.kits ?? 10;
  const rate = opts.rate ?? 20;
  const [calmMin, calmMax] = opts.calmMs ?? [2000, 6000];
  const [downMin, downMax] = opts.downMs ?? [300, 3000];
  const say = opts.progress ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'citytel-chaos-'));
  const kits: Array<{ id: string; secret: string }> = [];
  const store = await openStore({ dataDir: join(dir, 'data') });
  for (let i = 0; i < kitCount; i++) {
    const id = `chaos-${i}`;
    kits.push({
      id,
      secret: (await store.devices.create({ id, kind: 'native', lat: 48.11, lon: -1.68 })).secret!,
    });
  }
  await store.close();

  let stack: DurableStack | undefined;
  const clients: MqttClient[] = [];
  try {
    stack = await startDurableStack({
      dir,
      ports: {
        mqtt: await freePort(),
        influx: await freePort(),
        influxRpc: await freePort(),
        redis: await freePort(),
      },
      appendfsync: opts.appendfsync ?? 'always',
    });
    const s = stack;
    const acked = kits.map(() => new Set<number>());
    const sent = kits.map(() => 0);
    let inFlight = 0;
    let publishing = true;

    const publishers = kits.map(async (kit, k) => {
      const c = mqtt.connect(s.mqttUrl, {
        clientId: `${kit.id}/pub`,
        username: kit.id,
        password: kit.secret,
        reconnectPeriod: 500,
        connectTimeout: 5000,
      });
      c.on('error', () => {});
      clients.push(c);
      const every = 1000 / rate;
      for (let seq = 0; publishing; seq++) {
        const readings = [{ ts: new Date(T0 + seq * 1000).toISOString(), pm25: seq % 500 }];
        inFlight++;
        sent[k]!++;
        // MQTT.js keeps an unacknowledged QoS 1 publish in its store and sends it again after a reconnect.
        c.publishAsync(topics.sensorReadings(kit.id), JSON.stringify({ readings }), { qos: 1 }).then(
          () => {
            acked[k]!.add(seq);
            inFlight--;
          },
          () => {
            inFlight--;
          },
        );
        // At most a few seconds of backlog per kit while the broker is down.
        while (inFlight > kitCount * rate * 5 && publishing) await sleep(50);
        await sleep(every);
      }
    });

    const kills = Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>;
    const started = Date.now();
    const end = started + opts.seconds * 1000;
    const between = (a: number, b: number) => a + Math.random() * (b - a);
    const line = () => {
      const elapsed = Math.round((Date.now() - started) / 1000);
      const accepted = acked.reduce((n, a) => n + a.size, 0);
      return `chaos ${elapsed}/${opts.seconds} s: ${accepted} accepted, ${inFlight} awaiting PUBACK; kills ${PARTS.map((p) => `${p} ${kills[p]}`).join(', ')}`;
    };
    const ticker = setInterval(() => say(line()), 5000);
    // Each part in turn, in a shuffled order each cycle: all four are killed in a short run too.
    let order: Part[] = [];
    try {
      // Every part is killed at least once, however slow the restarts of a loaded machine make the cycle.
      const allKilled = () => PARTS.every((p) => kills[p] > 0);
      while (Date.now() < end || !allKilled()) {
        await sleep(between(calmMin, calmMax));
        if (Date.now() >= end && allKilled()) break;
        if (order.length === 0) order = [...PARTS].sort(() => Math.random() - 0.5);
        const part = order.shift()!;
        await s.kill(part);
        kills[part]++;
        await sleep(between(downMin, downMax));
        await s.start(part);
      }
    } finally {
      clearInterval(ticker);
    }
    for (const p of PARTS) await s.start(p);
    publishing = false;
    await Promise.all(publishers);
    say(`${line()}; load stopped, waiting for the last PUBACKs`);
    const settleBy = Date.now() + 60_000;
    while (inFlight > 0 && Date.now() < settleBy) await sleep(200);

    // Stored: every kit's times, once ingest has caught up (no change for 5 s).
    const storedTimes = async () =>
      Promise.all(
        kits.map(async (kit) => {
          const r = await fetch(
            `${s.influxUrl}/query?${new URLSearchParams({
              db: s.db,
              q: `SELECT pm25 FROM readings WHERE device = '${kit.id}'`,
              epoch: 'ms',
            })}`,
          );
          const body = (await r.json()) as { results?: Array<{ series?: Array<{ values: number[][] }> }> };
          return (body.results?.[0]?.series?.[0]?.values ?? []).map((v) => v[0]!);
        }),
      );
    let times = await storedTimes();
    let total = times.reduce((n, t) => n + t.length, 0);
    const waitUntil = Date.now() + 120_000;
    let stableSince = Date.now();
    const accepted = acked.reduce((n, a) => n + a.size, 0);
    while (Date.now() < waitUntil) {
      await sleep(1000);
      const next = await storedTimes();
      const n = next.reduce((m, t) => m + t.length, 0);
      if (n !== total) stableSince = Date.now();
      times = next;
      total = n;
      if (n >= accepted && Date.now() - stableSince > 5000) break;
    }

    const tallies: KitTally[] = kits.map((kit, k) => {
      const seqs = new Map<number, number>();
      let odd = 0;
      for (const t of times[k]!) {
        const seq = (t - T0) / 1000;
        if (!Number.isInteger(seq) || seq < 0 || seq >= sent[k]!) odd++;
        else seqs.set(seq, (seqs.get(seq) ?? 0) + 1);
      }
      let lost = 0;
      for (const seq of acked[k]!) if (!seqs.has(seq)) lost++;
      let doubled = odd;
      let unacknowledged = 0;
      for (const [seq, n] of seqs) {
        if (n > 1) doubled += n - 1;
        if (!acked[k]!.has(seq)) unacknowledged++;
      }
      return {
        kit: kit.id,
        accepted: acked[k]!.size,
        stored: times[k]!.length,
        lost,
        doubled,
        unacknowledged,
      };
    });
    const sum = (f: (t: KitTally) => number) => tallies.reduce((n, t) => n + f(t), 0);
    return {
      seconds: Math.round((Date.now() - started) / 1000),
      kills,
      kits: tallies,
      accepted: sum((t) => t.accepted),
      stored: sum((t) => t.stored),
      lost: sum((t) => t.lost),
      doubled: sum((t) => t.doubled),
      unacknowledged: sum((t) => t.unacknowledged),
    };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await stack?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
