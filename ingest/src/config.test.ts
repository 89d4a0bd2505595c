import { ConfigError, INGEST_STREAM } from '@citytel/contract';
import { describe, expect, it } from 'vitest';
import { loadIngestConfig } from './config.ts';

describe('ingest configuration', () => {
  it('runs on one machine by default: no Redis, the broker subscription', () => {
    const c = loadIngestConfig({});
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.mqttUrl).toBe('mqtt://127.0.0.1:1883');
    expect(c).toMatchObject({
      INGEST_STREAM_KEY: INGEST_STREAM.key,
      INGEST_GROUP: INGEST_STREAM.group,
      INGEST_CLAIM_IDLE_MS: 30_000,
      INGEST_TRIM_MS: 5000,
    });
  });

  it('takes cluster mode settings from the environment', () => {
    const c = loadIngestConfig({
      REDIS_URL: 'redis://10.0.0.5:6379/2',
      INGEST_STREAM_KEY: 'city-b:ingest',
      INGEST_GROUP: 'ingest-b',
      INGEST_ID: 'worker-3',
      INGEST_CLAIM_IDLE_MS: '5000',
    });
    expect(c).toMatchObject({
      REDIS_URL: 'redis://10.0.0.5:6379/2',
      INGEST_STREAM_KEY: 'city-b:ingest',
      INGEST_GROUP: 'ingest-b',
      INGEST_ID: 'worker-3',
      INGEST_CLAIM_IDLE_MS: 5000,
    });
    expect(loadIngestConfig({ REDIS_URL: '' }).REDIS_URL).toBeUndefined();
  });

  it('stops on a wrong value, naming the variable', () => {
    expect(() => loadIngestConfig({ REDIS_URL: 'not a url' })).toThrow(ConfigError);
    expect(() => loadIngestConfig({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL/);
    expect(() => loadIngestConfig({ INGEST_CLAIM_IDLE_MS: '10' })).toThrow(/INGEST_CLAIM_IDLE_MS/);
  });
});

describe('METRICS_PORT', () => {
  it('is off unless set (empty is unset), 0 picks a free port, anything else stops the start naming it', () => {
    expect(loadIngestConfig({}).METRICS_PORT).toBeUndefined();
    expect(loadIngestConfig({ METRICS_PORT: '' }).METRICS_PORT).toBeUndefined();
    expect(loadIngestConfig({ METRICS_PORT: '0' }).METRICS_PORT).toBe(0);
    expect(loadIngestConfig({ METRICS_PORT: '9464' }).METRICS_PORT).toBe(9464);
    expect(() => loadIngestConfig({ METRICS_PORT: 'x' })).toThrow(/METRICS_PORT/);
  });
});
