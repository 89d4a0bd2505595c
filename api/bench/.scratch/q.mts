import { startInfluxd } from '/work/main/scripts/influxd.ts';
import { createInfluxQuery } from '/work/main/api/src/influx/client.ts';
const h = await startInfluxd({ dir: '/tmp/exp/prof/influx', httpPort: 18186, rpcPort: 18188, database: 'telemetry' });
const q = createInfluxQuery({ url: h.url, db: 'telemetry' });
const now = Math.floor(Date.now() / 3600000) * 3600000;
const D = 86400000;
const t = async (label: string, sql: string) => { const t0 = performance.now(); const s = await q.query(sql); console.log(label, (performance.now() - t0).toFixed(0), 'ms', s.length, 'series', s.reduce((n, x) => n + x.values.length, 0), 'rows'); };
console.log((await q.query('SHOW SERIES CARDINALITY FROM readings'))[0]?.values, (await q.query('SHOW SERIES CARDINALITY FROM readings_1h'))[0]?.values);
for (let i = 0; i < 2; i++) {
await t('day tier 28d s,c,x by device,gh', `SELECT sum("pm25_sum"), sum("pm25_count"), max("pm25_max") FROM readings_1d WHERE time >= ${now - 29 * D}ms AND time < ${now - D}ms GROUP BY device, gh`);
await t('day tier 28d s,c,x,la,lo,n not mobile', `SELECT sum("pm25_sum"), sum("pm25_count"), max("pm25_max"), sum(lat_sum), sum(lon_sum), sum(n) FROM readings_1d WHERE time >= ${now - 29 * D}ms AND time < ${now - D}ms AND loc != 'mobile' GROUP BY device, loc, gh`);
await t('hour tier 1d s,c,x', `SELECT sum("pm25_sum"), sum("pm25_count"), max("pm25_max") FROM readings_1h WHERE time >= ${now - D}ms AND time < ${now}ms GROUP BY device, gh`);
await t('hour tier mobile 1d by time', `SELECT sum("pm25_sum"), sum("pm25_count"), max("pm25_max"), sum(lat_sum), sum(lon_sum), sum(n) FROM readings_1h WHERE time >= ${now - D}ms AND time < ${now}ms AND loc = 'mobile' GROUP BY time(1h), device, gh fill(none)`);
await t('raw 1h s,c,x', `SELECT sum("pm25"), count("pm25"), max("pm25") FROM readings WHERE time >= ${now - 3600000}ms AND time < ${now}ms GROUP BY device, gh`);
await t('raw 1h one field', `SELECT count("pm25") FROM readings WHERE time >= ${now - 3600000}ms AND time < ${now}ms GROUP BY device, gh`);
await t('raw 1h one field no group', `SELECT count("pm25") FROM readings WHERE time >= ${now - 3600000}ms AND time < ${now}ms`);
await t('raw 1h not mobile', `SELECT sum("pm25"), count("pm25"), max("pm25"), sum(lat), sum(lon), count(lat) FROM readings WHERE time >= ${now - 3600000}ms AND time < ${now}ms AND loc != 'mobile' GROUP BY device, loc, gh`);
await t('raw 1h mobile points', `SELECT pm25, lat, lon FROM readings WHERE time >= ${now - 3600000}ms AND time < ${now}ms AND loc = 'mobile' GROUP BY device`);
}
await h.stop();
