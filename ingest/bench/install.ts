import { existsSync } from 'node:fs';
import { ensureDebianPackages } from '../../scripts/setup.mjs';

/**
 * The peer's broker, Debian's Mosquitto: installed when missing (as root, as `npm start` installs influxd),
 * or the bench stops with the command to run. Returns the program's path.
 */
export function ensureMosquitto(): string {
  const given = process.env.MOSQUITTO;
  if (given) {
    if (!existsSync(given)) throw new Error(`MOSQUITTO=${given}: no such program`);
    return given;
  }
  const path = '/usr/sbin/mosquitto';
  if (!existsSync(path)) ensureDebianPackages({ mosquitto: 'mosquitto', mosquitto_passwd: 'mosquitto' });
  if (!existsSync(path))
    throw new Error(`${path} missing after installing Debian's mosquitto package: set MOSQUITTO to its path`);
  return path;
}

/** Debian's redis-server for the cluster and durable runs: installed when missing, or a clear stop. */
export function ensureRedisServer(): void {
  ensureDebianPackages({ 'redis-server': 'redis-server' });
}
