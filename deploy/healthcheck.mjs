// Docker HEALTHCHECK of the production images (deploy/*.Dockerfile): `node deploy/healthcheck.mjs <process>`,
// exit 0 when healthy. Plain JavaScript, so the check costs no TypeScript compilation every few seconds.
// Reads the same variables as the process it checks.
import { createRequire } from 'node:module';
import { connect } from 'node:net';

const env = process.env;
const fail = (why) => {
  process.stderr.write(`unhealthy: ${why}\n`);
  process.exit(1);
};

/** The api: its liveness route (readiness, /readyz, also needs the broker and InfluxDB; HAProxy asks that). */
async function api() {
  const r = await fetch(`http://127.0.0.1:${env.API_PORT ?? 8080}/healthz`, {
    signal: AbortSignal.timeout(2500),
  });
  if (!r.ok) fail(`/healthz answered ${r.status}`);
}

/** The broker: its MQTT listener accepts connections. */
function broker() {
  return new Promise((resolve) => {
    const socket = connect(Number(env.MQTT_PORT ?? 1883), '127.0.0.1');
    socket.setTimeout(2500, () => fail('MQTT port did not answer'));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => fail(`MQTT port: ${err.message}`));
  });
}

/**
 * An ingest worker in cluster mode: its consumer in the stream's group has read within the last two minutes
 * (a blocking read every few seconds keeps `idle` low; a worker stuck or held back by an InfluxDB outage
 * stops reading). Redis creates a consumer at its first entry, so before any traffic a worker is healthy
 * while the group has nothing waiting. On one machine there is nothing to ask but the process itself, which
 * exits on failure.
 */
async function ingest() {
  if (!env.REDIS_URL) return;
  const { Redis } = createRequire(import.meta.url)('ioredis');
  const redis = new Redis(env.REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    commandTimeout: 2500,
  });
  const key = env.INGEST_STREAM_KEY ?? 'citytel:ingest';
  const groupName = env.INGEST_GROUP ?? 'ingest';
  const id = env.INGEST_ID ?? 'main';
  try {
    await redis.connect();
    const records = (list) => list.map((c) => Object.fromEntries(pairs(c)));
    const group = records(await redis.xinfo('GROUPS', key)).find((g) => g.name === groupName);
    if (!group) fail(`no consumer group ${groupName} on ${key} yet`);
    const mine = records(await redis.xinfo('CONSUMERS', key, groupName)).find((c) => c.name === id);
    if (!mine) {
      if (Number(group.pending) > 0 || Number(group.lag ?? 0) > 0) fail(`consumer ${id} has not read yet`);
      return;
    }
    if (Number(mine.idle) > 120_000) fail(`consumer ${id} has not read the stream for ${mine.idle} ms`);
  } finally {
    redis.disconnect();
  }
}

function* pairs(flat) {
  for (let i = 0; i + 1 < flat.length; i += 2) yield [String(flat[i]), flat[i + 1]];
}

const checks = { api, broker, ingest };
const check = checks[process.argv[2]];
if (!check) fail(`usage: healthcheck.mjs ${Object.keys(checks).join('|')}`);
await check().catch((err) => fail(err.cause?.code ?? err.message));
process.exit(0);
