import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { influxQuery, startTestInflux } from './helpers/influx.ts';

describe('the test influxd', () => {
  let influx: Awaited<ReturnType<typeof startTestInflux>>;
  beforeAll(async () => {
    influx = await startTestInflux();
  });
  afterAll(async () => {
    await influx?.close();
  });

  it('accepts line protocol on /write and answers InfluxQL on /query', async () => {
    const r = await fetch(`${influx.url}/write?db=${influx.db}&precision=ms`, {
      method: 'POST',
      body: 'probe,device=x v=1.5 1764064800000',
    });
    expect(r.status).toBe(204);
    const series = await influxQuery(influx.url, influx.db, 'SELECT v FROM probe');
    expect(series[0]?.values).toEqual([[1764064800000, 1.5]]);
  });

  it('survives a restart with its data', async () => {
    await influx.restart();
    const series = await influxQuery(influx.url, influx.db, 'SELECT count(v) FROM probe');
    expect(series[0]?.values[0]?.[1]).toBe(1);
  });
});
