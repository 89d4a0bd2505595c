import { startInfluxd } from '/work/main/scripts/influxd.ts';
import { createInfluxQuery, type InfluxQuery } from '/work/main/api/src/influx/client.ts';
import { writeCity, DEFAULT_SHAPE } from '/work/main/api/bench/generate.ts';
import { createRollups } from '/work/main/api/src/influx/rollup.ts';
import pino from '/work/main/node_modules/pino/pino.js';
const h = await startInfluxd({ dir: '/tmp/exp/prof/influx', httpPort: 18186, rpcPort: 18188, database: 'telemetry' });
const base = createInfluxQuery({ url: h.url, db: 'telemetry' });
const mode = process.argv[2];
if (mode === 'gen') {
  const t0 = performance.now();
  const n = await writeCity(base, { ...DEFAULT_SHAPE, fixed: 110, mobile: 5 }, Math.floor(Date.now() / 3600000) * 3600000, () => {});
  console.log('wrote', n, performance.now() - t0);
}
if (mode === 'rollup') {
  const timed: InfluxQuery = { ...base, async query(q, o) { const t = performance.now(); const r = await base.query(q, o); console.log((performance.now() - t).toFixed(0), 'ms', q.slice(0, 90)); return r; },
    async write(l, o) { const t = performance.now(); await base.write(l, o); console.log((performance.now() - t).toFixed(0), 'ms write', l.length); } };
  await base.query('DROP MEASUREMENT "readings_1h"').catch(() => {}); await base.query('DROP MEASUREMENT "readings_1d"').catch(() => {});
  const r = createRollups({ influx: timed, log: pino({ level: 'info' }) });
  const t0 = performance.now(); await r.runOnce(); console.log('rollup', performance.now() - t0, r.coverage());
}
await h.stop();
