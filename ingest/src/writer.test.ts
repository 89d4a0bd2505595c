import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { lineText, ReadingPoint, Series } from './points.ts';
import { createWriter, type WriterOptions } from './writer.ts';

/** The bodies the writer posts, to a local stand-in answering 204 (what InfluxDB says to a good write). */
let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function recorder(): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, bodies };
}

const options = (url: string, over: Partial<WriterOptions>): WriterOptions => ({
  url,
  db: 'telemetry',
  batchLines: 5000,
  batchBytes: 1_000_000,
  flushMs: 20,
  gzipBytes: 1_000_000,
  maxInFlight: 50_000,
  retryMinMs: 50,
  retryMaxMs: 100,
  timeoutMs: 2000,
  ...over,
});

const series = new Series('readings,device=kit-1,gh=gbwcu5,kind=native,loc=fixed', 'lat=48.1,lon=-1.6,');
const point = (i: number) =>
  new ReadingPoint(series, { pm25: i / 10, humidity: 40 + i }, 'device', 1_795_860_900_000 + i, 0);

describe('writer', () => {
  it('writes points and text lines into one body, in order, and says each message is written once', async () => {
    const r = await recorder();
    const writer = createWriter(options(r.url, {}), pino({ level: 'silent' }));
    const done: string[] = [];
    const mark = (name: string) => done.push(name);
    writer.write([point(1), 'vehicles,vehicle=car-1 online=true 1795860900000000000', point(2)], mark, 'a');
    writer.write([point(3)], mark, 'b');
    await writer.drain(5000);
    writer.close();
    expect(r.bodies).toEqual([
      [point(1), 'vehicles,vehicle=car-1 online=true 1795860900000000000', point(2), point(3)]
        .map(lineText)
        .join('\n'),
    ]);
    expect(done).toEqual(['a', 'b']);
  });

  it('starts a new body with the line that would pass the byte bound', async () => {
    const r = await recorder();
    const lines = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? `m,t=x v=${i} ${i}` : point(i)));
    const size = lineText(lines[1]!).length + 1;
    // Room for about three and a half points: every body ends before its bound, none is empty.
    const bound = Math.floor(size * 3.5);
    const writer = createWriter(options(r.url, { batchBytes: bound }), pino({ level: 'silent' }));
    let written = 0;
    writer.write(lines.slice(0, 25), () => written++);
    writer.write(lines.slice(25), () => written++);
    await writer.drain(5000);
    writer.close();
    expect(written).toBe(2);
    expect(r.bodies.join('\n')).toBe(lines.map(lineText).join('\n'));
    expect(r.bodies.length).toBeGreaterThan(5);
    for (const [i, body] of r.bodies.entries()) {
      expect(body.length + 1).toBeLessThanOrEqual(bound);
      // Full: the next body's first line would not have fitted.
      const next = r.bodies[i + 1];
      if (next) expect(body.length + 1 + next.split('\n')[0]!.length + 1).toBeGreaterThan(bound);
    }
  });
});
