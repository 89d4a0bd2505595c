// First-run set-up shared by `npm start` and `npm test`: installs what is missing, on a fresh Debian 12
// machine with Node 20 (npm dependencies; Debian packages when running as root). Plain Node: it runs before
// any dependency exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const say = (msg) => process.stderr.write(`[setup] ${msg}\n`);

export function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    say(`Node ${process.versions.node} is too old: this project needs Node 20.19 or newer.`);
    process.exit(1);
  }
}

const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** npm ci when node_modules is missing or older than the lock file. */
export function ensureNpmDeps() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing npm dependencies (npm ci; better-sqlite3 compiles from source, about a minute)...');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    say('npm ci failed; see above.');
    process.exit(r.status ?? 1);
  }
}

/**
 * Installs Debian packages that provide the named commands. Only root can; anyone else gets the command to
 * run. `packages` maps a command to its Debian package.
 */
export function ensureDebianPackages(packages) {
  const missing = Object.entries(packages).filter(([cmd]) => !onPath(cmd));
  if (missing.length === 0) return;
  const names = [...new Set(missing.map(([, pkg]) => pkg))];
  if (process.getuid?.() !== 0) {
    say(
      `missing: ${missing.map(([c]) => c).join(', ')}. Install them with: sudo apt-get install -y ${names.join(' ')}`,
    );
    process.exit(1);
  }
  say(`installing Debian packages: ${names.join(' ')}...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names], {
    stdio: 'inherit',
    env,
  });
  // Debian's influxdb package enables a system service; on machines without systemd nothing starts, and
  // where one does, our own influxd runs on its own ports beside it.
}

/** Newest modification time of a file or of any file below a folder. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path, { recursive: true }).reduce(
    (m, f) => Math.max(m, statSync(join(path, f)).mtimeMs),
    s.mtimeMs,
  );
}

/** Builds the dashboard when its sources are newer than the last build. */
export function ensureDashboardBuilt() {
  const dir = join(root, 'dashboard');
  if (!existsSync(join(dir, 'index.html'))) return;
  const built = newest(join(dir, 'dist', 'index.html'));
  const sources = Math.max(
    newest(join(dir, 'src')),
    newest(join(dir, 'index.html')),
    newest(join(dir, 'vite.config.ts')),
    newest(join(dir, 'public')),
    newest(join(root, 'contract', 'src')),
    // The offline city map is built from the simulator's plan of the city.
    newest(join(root, 'firmware-sim', 'src', 'city.ts')),
  );
  if (built >= sources) return;
  say('building the dashboard (vite build)...');
  const r = spawnSync('npm', ['run', 'build', '-w', 'dashboard'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
