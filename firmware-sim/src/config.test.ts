import { ConfigError } from '@citytel/contract';
import { describe, expect, it } from 'vitest';
import { loadSimConfig } from './config.ts';

describe('config', () => {
  it('runs on one machine with no settings', () => {
    const c = loadSimConfig([], {});
    expect(c).toMatchObject({
      kits: 50,
      vehicles: 20,
      intervalS: 60,
      vehicleIntervalS: 10,
      durationS: 0,
      apiUrl: 'http://127.0.0.1:8080',
      mqttUrl: 'mqtt://127.0.0.1:1883',
      prefix: 'sim',
      speedup: 1,
      load: false,
      underground: true,
      members: true,
    });
    // Relative to where the command was typed, as every process finds the same .data.
    expect(c.stateFile).toBe(`${process.env.INIT_CWD ?? process.cwd()}/.data/sim-devices.json`);
    expect(c.city.name).toBe('Rennes');
  });

  it('reads the environment, and flags override it', () => {
    const env = {
      SIM_KITS: '7',
      API_PORT: '9000',
      MQTT_PORT: '1999',
      DATA_DIR: '/var/lib/citytel',
      BOOTSTRAP_ADMIN_TOKEN: 'tok',
    };
    const c = loadSimConfig(
      ['--kits', '3', '--mqtt-url', 'mqtt://broker:1883', '--speedup', '60', '--load'],
      env,
    );
    expect(c).toMatchObject({
      kits: 3,
      apiUrl: 'http://127.0.0.1:9000',
      mqttUrl: 'mqtt://broker:1883',
      adminToken: 'tok',
      speedup: 60,
      stateFile: '/var/lib/citytel/sim-devices.json',
      load: true,
    });
    expect(loadSimConfig(['--admin-token', 'flag'], env).adminToken).toBe('flag');
    const off = loadSimConfig(['--underground', 'false'], { SIM_MEMBERS: '0' });
    expect([off.underground, off.members]).toEqual([false, false]);
    expect(() => loadSimConfig(['--underground', 'maybe'], {})).toThrow(/SIM_UNDERGROUND/);
  });

  it('stops on a wrong value or an unknown flag, naming it', () => {
    expect(() => loadSimConfig(['--kits', 'many'], {})).toThrow(/SIM_KITS/);
    expect(() => loadSimConfig(['--speedup', '0'], {})).toThrow(/SIM_SPEEDUP/);
    expect(() => loadSimConfig(['--city', 'paris'], {})).toThrow(/SIM_CITY/);
    expect(() => loadSimConfig(['--colour', 'red'], {})).toThrow(ConfigError);
    expect(() => loadSimConfig(['--colour', 'red'], {})).toThrow(/colour/);
  });
});
