/**
 * CPU per message of ingest itself, without MQTT.js, the broker or InfluxDB's work: workload (a)'s messages
 * (one native reading each, stamped as the broker stamps them) handed to `createIngest` through a source
 * of its own, whose `ack` counts; the writer posts to an HTTP server in this process that answers 204 at
 * once. Rounds of `--messages` (100 000), `--rounds` (7); prints the CPU time per message of each round and
 * the median. A quick loop for ingest's own costs, beside `bench:ingest` (which measures the whole pipeline).
 * `--per-message=100` sends workload (b)'s messages instead (100 readings each; `--messages` then counts
 * messages still, so give fewer, e.g. 2000) and prints the CPU per reading too.
 *
 *   npx tsx ingest/bench/pipeline-cpu.ts [--messages=100000] [--rounds=7] [--per-message=1]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { stamp } from '@citytel/contract';
import pino from 'pino';
import { loadIngestConfig } from '../src/config.ts';
import type { SourceHandlers, SourceMessage } from '../src/source/types.ts';
import { device } from '../src/testing.ts';
import { createIngest } from '../src/worker.ts';
import { num } from './common.ts';
import { benchDevices, workload } from './workload.ts';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '7' },
    'per-message': { type: 'string', default: '1' },
  },
});
const perRound = num('messages', args.messages);
const rounds = num('rounds', args.rounds);
const perMessage = num('per-message', args['per-message']);
// Warm-up messages: 20 000 one-reading messages, or as many readings in batches.
const warmup = Math.max(20, Math.ceil(20_000 / perMessage));

const kits = benchDevices(1000);
const registry = new Map(kits.map((k) => [k.id, device(k.id, { lat: k.position.lat, lon: k.position.lon })]));
const w = workload({
  name: 'a',
  devices: kits,
  connections: 1,
  readingsPerDevice: Math.ceil((perRound * rounds + warmup) / kits.length) * perMessage,
  perMessage,
  from: Date.now() - 86_400_000,
});
const all = w.perConnection[0]!;

// InfluxDB's stand-in: reads each body and answers 204.
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.statusCode = 204;
    res.end();
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;

let handlers: SourceHandlers | undefined;
let acked = 0;
const ack = () => {
  acked++;
};
const ingest = createIngest({
  config: loadIngestConfig({ INFLUX_URL: `http://127.0.0.1:${port}`, DATA_DIR: '/tmp', LOG_LEVEL: 'silent' }),
  store: {
    devices: { get: async (id: string) => registry.get(id) } as never,
    rejections: { add: async () => undefined, addMany: async () => undefined } as never,
    touchMany: async () => undefined,
  },
  log: pino({ level: 'silent' }),
  source: {
    async start(h) {
      handlers = h;
    },
    pause() {},
    async close() {},
    stats: () => ({
      connected: true,
      received: 0,
      unacked: 0,
      acked,
      paused: false,
      pausedMs: 0,
      reconnects: 0,
    }),
  },
});
await ingest.start();

/** Feeds messages [from, to) as the MQTT source would (capacity asked before each), waits for every ack. */
async function feed(from: number, to: number): Promise<void> {
  const h = handlers!;
  const target = acked + (to - from);
  const receivedAt = Date.now();
  for (let i = from; i < to; i++) {
    const wait = h.backpressure();
    if (wait) await wait;
    const m = all[i]!;
    // A fresh Buffer per message, as MQTT.js delivers.
    const msg: SourceMessage = {
      topic: m.topic,
      payload: stamp(Buffer.from(m.payload), receivedAt),
      retain: false,
      ack,
    };
    h.onMessage(msg);
    // Let the event loop turn now and then (timers, HTTP answers), as a socket's reads would.
    if ((i & 1023) === 0) await new Promise((r) => setImmediate(r));
  }
  while (acked < target) await new Promise((r) => setTimeout(r, 1));
}

// Warm up: every device cached, the code optimized.
await feed(0, Math.min(all.length, warmup));
const results: number[] = [];
let at = warmup;
for (let r = 0; r < rounds && at + perRound <= all.length; r++) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await feed(at, at + perRound);
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - t0;
  at += perRound;
  const us = (cpu.user + cpu.system) / perRound;
  results.push(us);
  const perReading = perMessage > 1 ? `, ${(us / perMessage).toFixed(3)} µs/reading` : '';
  console.log(
    `round ${r + 1}: ${us.toFixed(2)} µs CPU/msg${perReading} (${((perRound / ms) * 1000).toFixed(0)} msgs/s wall)`,
  );
}
results.sort((a, b) => a - b);
// The machine is shared: other work only adds to a round, so the least is the steadiest figure.
const median = results[Math.floor(results.length / 2)]!;
console.log(
  `median ${median.toFixed(2)}, least ${results[0]!.toFixed(2)} µs CPU/msg over ${results.length} rounds` +
    (perMessage > 1
      ? ` (${(median / perMessage).toFixed(3)}, ${(results[0]! / perMessage).toFixed(3)} µs/reading)`
      : ''),
);
await ingest.stop();
server.close();
process.exit(0);
