import { statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProvisioner, nextSuffixedId, ProvisionError, readState } from './provision.ts';

describe('provisioning', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'citytel-sim-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('names a re-registered device with the next suffix', () => {
    expect(nextSuffixedId('sim-sck-003', 'sim-sck-003')).toBe('sim-sck-003-r2');
    expect(nextSuffixedId('sim-sck-003', 'sim-sck-003-r2')).toBe('sim-sck-003-r3');
    expect(nextSuffixedId('sim-sck-003', 'sim-sck-003-r9')).toBe('sim-sck-003-r10');
  });

  it('reuses what the state file holds, without asking the api', async () => {
    const file = join(dir, 'sim-devices.json');
    const state = {
      version: 1,
      devices: { 'sim-native-001': { id: 'sim-native-001-r2', kind: 'native', secret: 'abc' } },
    };
    writeFileSync(file, JSON.stringify(state), { mode: 0o600 });
    const p = await createProvisioner(
      { apiUrl: 'http://127.0.0.1:1', adminToken: undefined, stateFile: file },
      { log: pino({ level: 'silent' }) },
    );
    expect(await p.ensure({ id: 'sim-native-001', kind: 'native' })).toEqual({
      id: 'sim-native-001-r2',
      kind: 'native',
      secret: 'abc',
    });
    // Not known and no token: a clear error, not a crash in fetch.
    await expect(p.ensure({ id: 'sim-native-002', kind: 'native' })).rejects.toThrow(ProvisionError);
    await expect(p.ensure({ id: 'sim-native-002', kind: 'native' })).rejects.toThrow(/--admin-token/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('starts empty without a state file and refuses a corrupt one', async () => {
    expect(await readState(join(dir, 'none.json'))).toEqual({ version: 1, devices: {} });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ version: 2 }));
    await expect(readState(bad)).rejects.toThrow(ProvisionError);
  });
});
