// `npm test`: installs what the tests need (npm dependencies; influxd, mosquitto clients and Chromium from
// Debian when root), type-checks, lints, then runs every unit and integration test once. Ends with one line
// `tests: N passed, N failed, N skipped` that CI reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkNode, ensureDashboardBuilt, ensureDebianPackages, ensureNpmDeps, root } from './setup.mjs';

checkNode();
ensureNpmDeps();
ensureDebianPackages({
  influxd: 'influxdb',
  mosquitto_pub: 'mosquitto-clients',
  chromium: 'chromium',
  pg_ctlcluster: 'postgresql',
  'redis-server': 'redis-server',
  'docker-compose': 'docker-compose',
  haproxy: 'haproxy',
  openssl: 'openssl',
  // promtool and prometheus: deploy/prometheus.yml checked, the dashboards' PromQL run on real scrapes
  promtool: 'prometheus',
});
ensureDashboardBuilt();

const run = (what, cmd, args) => {
  process.stdout.write(`\n== ${what}\n`);
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  });
  return r.status ?? 1;
};

let failedSteps = 0;
failedSteps += run('type check (tsc)', 'npx', ['tsc', '--noEmit', '-p', '.']) === 0 ? 0 : 1;
failedSteps +=
  run('type check the dashboard (tsc, DOM)', 'npx', ['tsc', '--noEmit', '-p', 'dashboard']) === 0 ? 0 : 1;
failedSteps += run('lint (biome)', 'npx', ['biome', 'check', '.']) === 0 ? 0 : 1;
failedSteps +=
  run('manifests (every import declared by its package, nothing declared unused)', 'node', [
    'scripts/check-manifests.mjs',
  ]) === 0
    ? 0
    : 1;

const artifacts = join(root, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const report = join(artifacts, 'vitest-report.json');
const vitestArgs = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const vitestStatus = run('tests (vitest: unit, then integration against real servers)', 'npx', vitestArgs);

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests ?? 0;
  failed = r.numFailedTests ?? 0;
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
}
if (vitestStatus !== 0 && failed === 0) failed = 1; // a suite that crashed before counting
failed += failedSteps;
process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(failed > 0 || vitestStatus !== 0 ? 1 : 0);
