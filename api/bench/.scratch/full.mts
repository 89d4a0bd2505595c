import { startInfluxd } from '/work/main/scripts/influxd.ts';
import { createInfluxQuery } from '/work/main/api/src/influx/client.ts';
import { writeCity, DEFAULT_SHAPE } from '/work/main/api/bench/generate.ts';
const h = await startInfluxd({ dir: '/tmp/exp/full/influx', httpPort: 18286, rpcPort: 18288, database: 'telemetry' });
try {
  const base = createInfluxQuery({ url: h.url, db: 'telemetry' });
  const t0 = performance.now();
  let next = 0;
  const n = await writeCity(base, DEFAULT_SHAPE, Math.floor(Date.now() / 3600000) * 3600000, (w) => { if (w >= next) { console.log(w, ((performance.now() - t0) / 1000).toFixed(0)); next += 500000; } });
  console.log('wrote', n, performance.now() - t0);
} finally { await h.stop(); }
