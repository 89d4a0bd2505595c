import { BROKER_FAMILIES } from '@citytel/contract';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createMetricsServer } from './metrics-server.ts';

describe('createMetricsServer', () => {
  it("serves the process's figures and Node's metrics on GET /metrics, and nothing else", async () => {
    let clients = 3;
    const server = createMetricsServer({
      port: 0,
      host: '127.0.0.1',
      families: BROKER_FAMILIES,
      read: () => ({ clients, refusals: { throttled: 1 } }),
      log: pino({ level: 'silent' }),
    });
    const port = await server.listen();
    try {
      const url = `http://127.0.0.1:${port}`;
      const r = await fetch(`${url}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await r.text();
      expect(text).toContain('# TYPE citytel_broker_clients gauge\ncitytel_broker_clients 3\n');
      expect(text).toContain('citytel_broker_refusals_total{reason="throttled"} 1');
      expect(text).toContain('# TYPE process_cpu_seconds_total counter');
      // read on each scrape
      clients = 4;
      expect(await (await fetch(`${url}/metrics`)).text()).toContain('citytel_broker_clients 4\n');
      const elsewhere = await fetch(`${url}/`);
      expect(elsewhere.status).toBe(404);
      await elsewhere.body?.cancel();
      const post = await fetch(`${url}/metrics`, { method: 'POST' });
      expect(post.status).toBe(405);
      await post.body?.cancel();
    } finally {
      await server.close();
    }
  });

  it('refuses to listen on a port in use, without taking the process down', async () => {
    const log = pino({ level: 'silent' });
    const a = createMetricsServer({ port: 0, host: '127.0.0.1', families: [], read: () => ({}), log });
    const port = await a.listen();
    const b = createMetricsServer({ port, host: '127.0.0.1', families: [], read: () => ({}), log });
    try {
      await expect(b.listen()).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await a.close();
    }
  });
});
