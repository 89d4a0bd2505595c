import { ensureDashboardBuilt, startWholeSystem } from './test/helpers/dashboard-stack.ts';
ensureDashboardBuilt();
const s = await startWholeSystem({ kits: 8, vehicles: 3, intervalS: 2 });
const kit = await s.kit('e2e-kit', { lat: 48.1113, lon: -1.68 }, 'Place de la Mairie');
const now = Date.now();
for (let i = 12; i >= 1; i--) {
  await kit.publishAsync('sensors/e2e-kit/readings', JSON.stringify({ ts: new Date(now - i * 20 * 60_000).toISOString(), pm25: 4 + i * 3, pm10: 10 + i * 4, noise_laeq: 50 + i, no2: 20 + i, temperature: 12 + i / 2, humidity: 60 }), { qos: 1 });
}
console.log('URL', s.baseUrl);
process.on('SIGTERM', async () => { await s.close(); process.exit(0); });
process.on('SIGINT', async () => { await s.close(); process.exit(0); });
setInterval(() => {}, 1000);
