import { ConfigError } from '@citytel/contract';
import { describe, expect, it } from 'vitest';
import { loadApiConfig } from './config.ts';

describe('api configuration', () => {
  it('runs on one machine with no variable set', () => {
    const c = loadApiConfig({ INIT_CWD: '/srv/citytel' });
    expect(c).toMatchObject({
      API_PORT: 8080,
      API_HOST: '0.0.0.0',
      DATA_DIR: '/srv/citytel/.data',
      MQTT_PORT: 1883,
      INFLUX_URL: 'http://127.0.0.1:8086',
      INFLUX_DB: 'telemetry',
      CORS_ORIGINS: true,
      OPEN_DATA_LICENSE: 'ODbL-1.0',
      RATE_LIMIT_PER_MIN: 120,
      TRUST_PROXY_HOPS: 0,
      STREAM_MAX_PER_ADDRESS: 4,
      EXPORT_MAX_CONCURRENT: 4,
      LOG_LEVEL: 'info',
    });
    expect(c.DASHBOARD_DIR.endsWith('/dashboard/dist')).toBe(true);
    expect(c.BOOTSTRAP_ADMIN_TOKEN).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('resolves relative folders from where the command was typed', () => {
    const c = loadApiConfig({ INIT_CWD: '/srv/citytel', DATA_DIR: 'var/data', DASHBOARD_DIR: '/opt/dash' });
    expect([c.DATA_DIR, c.DASHBOARD_DIR]).toEqual(['/srv/citytel/var/data', '/opt/dash']);
  });

  it('runs in cluster mode with REDIS_URL, its keys under REDIS_KEY_PREFIX', () => {
    const one = loadApiConfig({});
    expect([one.REDIS_URL, one.REDIS_KEY_PREFIX]).toEqual([undefined, 'citytel:']);
    const c = loadApiConfig({ REDIS_URL: 'rediss://:pw@redis.internal:6380/2', REDIS_KEY_PREFIX: 'rennes:' });
    expect([c.REDIS_URL, c.REDIS_KEY_PREFIX]).toEqual(['rediss://:pw@redis.internal:6380/2', 'rennes:']);
  });

  it('reads a list of CORS origins, and none', () => {
    expect(loadApiConfig({ CORS_ORIGINS: 'https://a.example, https://b.example:8443' }).CORS_ORIGINS).toEqual(
      ['https://a.example', 'https://b.example:8443'],
    );
    expect(loadApiConfig({ CORS_ORIGINS: 'none' }).CORS_ORIGINS).toBe(false);
  });

  it.each([
    [{ API_PORT: '80a' }, 'API_PORT'],
    [{ INFLUX_URL: 'not a url' }, 'INFLUX_URL'],
    [{ CORS_ORIGINS: 'example.org' }, 'CORS_ORIGINS'],
    [{ BOOTSTRAP_ADMIN_TOKEN: 'short' }, 'BOOTSTRAP_ADMIN_TOKEN'],
    [{ RATE_LIMIT_PER_MIN: '0' }, 'RATE_LIMIT_PER_MIN'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ REDIS_URL: 'http://redis:6379' }, 'REDIS_URL'],
    [{ REDIS_KEY_PREFIX: 'two words' }, 'REDIS_KEY_PREFIX'],
    [{ COMMAND_WAIT_POLL_MS: '10' }, 'COMMAND_WAIT_POLL_MS'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY_HOPS: 'all' }, 'TRUST_PROXY_HOPS'],
  ])('stops on %o with a message naming %s', (env, name) => {
    expect(() => loadApiConfig(env)).toThrow(ConfigError);
    expect(() => loadApiConfig(env)).toThrow(new RegExp(`^invalid configuration:\\n  ${name}: `));
  });
});
