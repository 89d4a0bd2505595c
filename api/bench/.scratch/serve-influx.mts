import { startInfluxd } from '/work/main/scripts/influxd.ts';
const h = await startInfluxd({ dir: '/tmp/exp/full/influx', httpPort: 18286, rpcPort: 18288, database: 'telemetry' });
console.log('up', h.process.pid);
process.on('SIGTERM', async () => { await h.stop(); process.exit(0); });
setInterval(() => {}, 1 << 30);
