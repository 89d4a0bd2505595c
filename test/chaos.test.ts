import { describe, expect, it } from 'vitest';
import { runChaos } from '../scripts/chaos/run.ts';

/**
 * `npm run chaos` for 60 seconds: kits publish at QoS 1 while the broker, ingest, influxd and redis-server
 * are SIGKILLed in turn and started again. Nothing a kit got a PUBACK for is lost, nothing is stored twice.
 */
describe('chaos: SIGKILLs of every part under load', () => {
  it('60 s: every acknowledged reading stored, once', { timeout: 600_000 }, async () => {
    const lines: string[] = [];
    const r = await runChaos({ seconds: 60, kits: 8, rate: 10, progress: (l) => lines.push(l) });
    const summary = JSON.stringify({ ...r, kits: r.kits.filter((k) => k.lost || k.doubled) });
    for (const part of ['broker', 'ingest', 'influxd', 'redis'] as const)
      expect(r.kills[part], `${part} killed: ${summary}`).toBeGreaterThan(0);
    expect(r.accepted, summary).toBeGreaterThan(1000);
    expect(r.lost, summary).toBe(0);
    expect(r.doubled, summary).toBe(0);
  });
});
