import { startInfluxd } from '/work/main/scripts/influxd.ts';
import { createInfluxQuery } from '/work/main/api/src/influx/client.ts';
const h = await startInfluxd({ dir: '/tmp/exp/prof/influx', httpPort: 18186, rpcPort: 18188, database: 'telemetry' });
const q = createInfluxQuery({ url: h.url, db: 'telemetry' });
console.log(JSON.stringify((await q.query('SHOW TAG VALUES CARDINALITY FROM readings WITH KEY = gh'))));
console.log(JSON.stringify((await q.query('SHOW TAG VALUES CARDINALITY FROM readings WITH KEY = device'))));
console.log(JSON.stringify((await q.query("SHOW SERIES FROM readings WHERE device = 'car-000' LIMIT 5"))));
console.log(JSON.stringify((await q.query("SHOW SERIES CARDINALITY FROM readings WHERE device = 'car-000'"))));
await h.stop();
