import { createInfluxQuery, type InfluxQuery } from '/work/main/api/src/influx/client.ts';
import { createRollups } from '/work/main/api/src/influx/rollup.ts';
import { aggregateCells } from '/work/main/api/src/influx/map-query.ts';
import pino from '/work/main/node_modules/pino/pino.js';
const base = createInfluxQuery({ url: 'http://127.0.0.1:18286', db: 'telemetry', timeoutMs: 600000 });
let log = process.argv[2] === 'rollup';
const timed: InfluxQuery = { ...base, async query(q, o) { const t = performance.now(); const r = await base.query(q, o); if (log) console.log('  ', (performance.now() - t).toFixed(0), 'ms', r.length, 'series', q.slice(0, 150)); return r; },
  async *queryChunks(q, o) { const t = performance.now(); let n = 0; for await (const c of base.queryChunks(q, o)) { n += c.reduce((x, s) => x + s.values.length, 0); yield c; } if (log) console.log('  ', (performance.now() - t).toFixed(0), 'ms chunks', n, 'rows', q.slice(0, 120)); } };
const r = createRollups({ influx: timed, log: pino({ level: 'info' }) });
let t0 = performance.now();
await r.runOnce();
console.log('rollup', (performance.now() - t0).toFixed(0), JSON.stringify(r.coverage()));
log = true;
const now = Date.now();
for (const [w, cell] of [[3600000, 7], [86400000, 7], [30 * 86400000, 6], [30 * 86400000, 7]] as const) {
  t0 = performance.now();
  const cells = await aggregateCells(timed, { metric: 'pm25', from: now - w, to: now, cell }, r.coverage());
  console.log('map', w / 3600000, 'h cell', cell, (performance.now() - t0).toFixed(0), 'ms', cells.length, 'cells');
}
t0 = performance.now();
await Promise.all([timed.query(`SELECT last(*) FROM readings WHERE time >= ${now - 86400000}ms GROUP BY device`),
timed.query(`SELECT last(tsrc) FROM readings WHERE time >= ${now - 86400000}ms GROUP BY device, loc`)]);
console.log('devices latest', (performance.now() - t0).toFixed(0));
