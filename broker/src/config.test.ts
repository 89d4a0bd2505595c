import { INGEST_STREAM } from '@citytel/contract';
import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from './config.ts';

describe('cluster mode settings', () => {
  it('are off by default: no Redis, the contract stream key, a 5 s append timeout', () => {
    const c = loadBrokerConfig({});
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.INGEST_STREAM_KEY).toBe(INGEST_STREAM.key);
    expect(c.REDIS_APPEND_TIMEOUT_MS).toBe(5000);
  });

  it('treat an empty REDIS_URL as unset, as compose files pass it', () => {
    expect(loadBrokerConfig({ REDIS_URL: '' }).REDIS_URL).toBeUndefined();
  });

  it('take a redis:// or rediss:// URL and a stream key of their own', () => {
    const c = loadBrokerConfig({
      REDIS_URL: 'rediss://:pw@redis.city:6380/2',
      INGEST_STREAM_KEY: 'rennes:ingest',
    });
    expect(c.REDIS_URL).toBe('rediss://:pw@redis.city:6380/2');
    expect(c.INGEST_STREAM_KEY).toBe('rennes:ingest');
  });

  it('stop at start-up on a URL that is not Redis, naming the variable', () => {
    expect(() => loadBrokerConfig({ REDIS_URL: 'http://redis:6379' })).toThrow(/REDIS_URL/);
    expect(() => loadBrokerConfig({ REDIS_APPEND_TIMEOUT_MS: '10' })).toThrow(/REDIS_APPEND_TIMEOUT_MS/);
  });
});

describe('METRICS_PORT', () => {
  it('is off unless set (empty is unset), 0 picks a free port, anything else stops the start naming it', () => {
    expect(loadBrokerConfig({}).METRICS_PORT).toBeUndefined();
    expect(loadBrokerConfig({ METRICS_PORT: '' }).METRICS_PORT).toBeUndefined();
    expect(loadBrokerConfig({ METRICS_PORT: '0' }).METRICS_PORT).toBe(0);
    expect(loadBrokerConfig({ METRICS_PORT: '9464' }).METRICS_PORT).toBe(9464);
    expect(() => loadBrokerConfig({ METRICS_PORT: 'x' })).toThrow(/METRICS_PORT/);
    expect(() => loadBrokerConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
  });
});
