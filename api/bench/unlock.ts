// `npm run bench:unlock`: unlock round-trip latency, api request → broker → car → ack → api answer.
//
// Three processes, as in production: the platform (store, broker, api: unlock-serve.ts), the simulator's
// on-board units (firmware-sim, one MQTT connection and session per car), and this client. Each car gets a
// booking running now; then BENCH_COMMANDS unlock requests with `?wait=30` go out round-robin over the
// cars at BENCH_RATE per second (an open loop, as members press their app's button whatever the others
// do), or with BENCH_RATE=0 as fast as it goes: the cars in parallel, each car's requests one after another
// (a member does not press twice at once), which measures the saturated throughput. Every answer must be
// `done`. Prints p50/p90/p99/max of the round trip and of its parts, read from each command's history:
// request → `pending` (HTTP, auth, idempotency, car and booking checks, insert), `pending` → `sent`
// (publish, PUBACK), `sent` → `done` (broker → car → actuators → ack → store: the simulated unit waits
// 100–800 ms like a real one waking its CAN bus), `done` → answer.
//
// BENCH_CARS (100), BENCH_COMMANDS (1000), BENCH_RATE (20; 0: saturate), BENCH_WARMUP (50).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { percentiles } from '../../ingest/bench/common.ts';

const CARS = Number(process.env.BENCH_CARS ?? 100);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 1000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 50);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

interface Platform {
  apiUrl: string;
  mqttUrl: string;
  token: string;
}

const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'citytel-bench-unlock-'));

function start(script: string, args: string[], env: Record<string, string>): ChildProcess {
  // BENCH_CPU_PROF=dir: V8 CPU profiles of the platform and the simulator, to see where the time goes.
  const prof = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', join(root, script), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return child;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((res, rej) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => res(l));
    child.once('exit', (code) => rej(new Error(`child exited with ${code} before it was ready`)));
  });
}

async function api(
  p: Platform,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const r = await fetch(`${p.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${p.token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the benchmark reads a few fields of the JSON answers
  return { status: r.status, body: (await r.json()) as any };
}

const summary = (values: number[]) => {
  const [p50, p90, p99] = percentiles(values, [0.5, 0.9, 0.99]);
  const r = (v: number | null | undefined) =>
    v === null || v === undefined ? Number.NaN : Math.round(v * 10) / 10;
  return { p50: r(p50), p90: r(p90), p99: r(p99), max: r(values.length ? Math.max(...values) : null) };
};

interface Sample {
  roundTripMs: number;
  toPendingMs: number;
  pendingToSentMs: number;
  carMs: number;
  answerMs: number;
}

async function unlock(p: Platform, car: string, bookingId: string, n: number): Promise<Sample> {
  const t0 = Date.now();
  const s0 = performance.now();
  const r = await api(
    p,
    'POST',
    `/api/v1/vehicles/${car}/commands?wait=30`,
    { action: 'unlock', bookingId },
    {
      'idempotency-key': `bench-${car}-${n}`,
    },
  );
  const roundTripMs = performance.now() - s0;
  const t1 = Date.now();
  if (r.status !== 202 || r.body.state !== 'done')
    throw new Error(`${car}: ${r.status} ${JSON.stringify(r.body)}`);
  const at = (state: string) =>
    Date.parse(r.body.history.find((h: { state: string }) => h.state === state).at);
  return {
    roundTripMs,
    toPendingMs: at('pending') - t0,
    pendingToSentMs: at('sent') - at('pending'),
    carMs: at('done') - at('sent'),
    answerMs: t1 - at('done'),
  };
}

async function main(): Promise<void> {
  const serve = start('api/bench/unlock-serve.ts', [], { DATA_DIR: dir, COMMAND_TTL_S: '30' });
  const platform = JSON.parse(await firstLine(serve)) as Platform;
  process.stdout.write(`platform up: api ${platform.apiUrl}, broker ${platform.mqttUrl}\n`);

  const sim = start(
    'firmware-sim/src/main.ts',
    [
      '--kits=0',
      `--vehicles=${CARS}`,
      '--auto-trips=false',
      '--vehicle-interval=30',
      `--api-url=${platform.apiUrl}`,
      `--mqtt-url=${platform.mqttUrl}`,
      `--admin-token=${platform.token}`,
      `--state-file=${join(dir, 'sim-devices.json')}`,
      '--log-level=warn',
    ],
    { DATA_DIR: dir, LOG_PRETTY: '0' },
  );
  sim.stdout?.resume();
  const t0 = Date.now();
  let cars: string[] = [];
  for (;;) {
    const r = await api(platform, 'GET', '/api/v1/vehicles');
    cars = (r.body.vehicles ?? [])
      .filter((v: { online: boolean }) => v.online)
      .map((v: { id: string }) => v.id);
    if (cars.length >= CARS) break;
    if (Date.now() - t0 > 180_000)
      throw new Error(`only ${cars.length} of ${CARS} cars online after 3 minutes`);
    await new Promise((r) => setTimeout(r, 500));
  }
  process.stdout.write(
    `${cars.length} cars registered and online in ${Math.round((Date.now() - t0) / 1000)} s\n`,
  );

  const now = Date.now();
  const bookings = new Map<string, string>();
  for (const car of cars) {
    const b = await api(platform, 'POST', '/api/v1/bookings', {
      vehicleId: car,
      memberId: `member-${car}`,
      start: new Date(now - 60_000).toISOString(),
      end: new Date(now + 3_600_000).toISOString(),
    });
    if (b.status !== 201) throw new Error(`booking ${car}: ${JSON.stringify(b.body)}`);
    bookings.set(car, b.body.id);
  }

  for (let i = 0; i < WARMUP; i++)
    await unlock(platform, cars[i % cars.length]!, bookings.get(cars[i % cars.length]!)!, -i - 1);

  const samples: Sample[] = [];
  const wall = performance.now();
  if (RATE > 0) {
    // Each request leaves at its own instant, answered or not: a slow answer does not slow the arrivals.
    const sent: Promise<void>[] = [];
    for (let i = 0; i < COMMANDS; i++) {
      const due = wall + (i * 1000) / RATE;
      const lag = due - performance.now();
      if (lag > 0) await new Promise((r) => setTimeout(r, lag));
      const car = cars[i % cars.length]!;
      sent.push(unlock(platform, car, bookings.get(car)!, i).then((s) => void samples.push(s)));
    }
    await Promise.all(sent);
  } else {
    const perCar = Math.ceil(COMMANDS / cars.length);
    let issued = 0;
    await Promise.all(
      cars.map(async (car) => {
        for (let i = 0; i < perCar && issued < COMMANDS; i++) {
          issued++;
          samples.push(await unlock(platform, car, bookings.get(car)!, i));
        }
      }),
    );
  }
  const wallS = (performance.now() - wall) / 1000;

  const result = {
    rate: RATE > 0 ? RATE : 'saturated',
    commands: samples.length,
    cars: cars.length,
    allDone: samples.length === COMMANDS,
    seconds: Math.round(wallS * 10) / 10,
    commandsPerSecond: Math.round(samples.length / wallS),
    roundTripMs: summary(samples.map((s) => s.roundTripMs)),
    requestToPendingMs: summary(samples.map((s) => s.toPendingMs)),
    pendingToSentMs: summary(samples.map((s) => s.pendingToSentMs)),
    sentToDoneMs: summary(samples.map((s) => s.carMs)),
    doneToAnswerMs: summary(samples.map((s) => s.answerMs)),
  };
  const row = (name: string, s: ReturnType<typeof summary>) =>
    `${name.padEnd(34)}${[s.p50, s.p90, s.p99, s.max].map((v) => String(v).padStart(9)).join('')}`;
  process.stdout.write(
    [
      '',
      `unlock round trip: ${result.commands} commands to ${result.cars} simulated cars in ${result.seconds} s ` +
        `(${result.commandsPerSecond}/s${RATE > 0 ? `, sent at ${RATE}/s` : ', as fast as answered'}), every one done`,
      `${''.padEnd(34)}${['p50', 'p90', 'p99', 'max'].map((h) => h.padStart(9)).join('')}   (ms)`,
      row('api request → answer (round trip)', result.roundTripMs),
      row('  request → pending (auth, checks)', result.requestToPendingMs),
      row('  pending → sent (publish, PUBACK)', result.pendingToSentMs),
      row('  sent → done (car, 100–800 ms)', result.sentToDoneMs),
      row('  done → answer', result.doneToAnswerMs),
      '',
      JSON.stringify(result),
      '',
    ].join('\n'),
  );
}

try {
  await main();
} finally {
  for (const c of children.reverse()) {
    c.kill('SIGTERM');
    await new Promise((r) => (c.exitCode !== null ? r(undefined) : c.once('exit', r)));
  }
  rmSync(dir, { recursive: true, force: true });
}
