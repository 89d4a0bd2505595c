// `npm start`: installs what is missing, then runs the whole system with the simulator (scripts/run-all.ts).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { checkNode, ensureDashboardBuilt, ensureDebianPackages, ensureNpmDeps, root } from './setup.mjs';

checkNode();
ensureNpmDeps();
if (!process.env.INFLUX_URL) ensureDebianPackages({ influxd: 'influxdb' });
if (!process.env.REDIS_URL && process.env.DURABLE !== '0')
  ensureDebianPackages({ 'redis-server': 'redis-server' });
ensureDashboardBuilt();

const child = spawn(
  process.execPath,
  ['--import', 'tsx', join(root, 'scripts', 'run-all.ts'), ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    // the demo lets the simulator's load gateway (svc:sim) in; production brokers refuse it by default
    env: { ...process.env, MQTT_ALLOW_SIM: process.env.MQTT_ALLOW_SIM ?? 'true' },
  },
);
// Ctrl-C reaches the whole foreground process group; run-all stops its children and exits.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => {});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
