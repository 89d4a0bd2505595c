import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createRefusals } from './refusals.ts';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  let t = 0;
  const log = pino({ level: 'warn' }, stream);
  return {
    lines,
    advance: (ms: number) => {
      t += ms;
    },
    make: (o: { linesPerReason?: number } = {}) => createRefusals(log, { now: () => t, ...o }),
  };
}

const settle = () => new Promise((r) => setImmediate(r));
const ctx = (clientId: string) => ({ clientId, username: 'kit-1', remoteAddress: '10.0.0.1', topic: 'x' });

describe('refusals', () => {
  it('counts every refusal by reason', () => {
    const c = capture();
    const r = c.make();
    r.refuse('publish_denied', ctx('a'));
    r.refuse('publish_denied', ctx('b'));
    r.refuse('throttled', ctx('a'));
    const counts = r.counts();
    expect(counts.publish_denied).toBe(2);
    expect(counts.throttled).toBe(1);
    expect(counts.bad_credentials).toBe(0);
  });

  it('logs one line per client id and reason per minute, with the count of repeats', async () => {
    const c = capture();
    const r = c.make();
    r.refuse('publish_denied', ctx('a'));
    r.refuse('publish_denied', ctx('a'));
    r.refuse('publish_denied', ctx('a'));
    r.refuse('subscribe_denied', ctx('a'));
    await settle();
    expect(c.lines.map((l) => [l.reason, l.clientId, l.count])).toEqual([
      ['publish_denied', 'a', 1],
      ['subscribe_denied', 'a', 1],
    ]);
    expect(c.lines[0]).toMatchObject({
      username: 'kit-1',
      remoteAddress: '10.0.0.1',
      topic: 'x',
      msg: 'refused: publish_denied',
    });
    c.advance(60_000);
    r.flush();
    await settle();
    expect(c.lines.slice(2).map((l) => [l.reason, l.clientId, l.count])).toEqual([
      ['publish_denied', 'a', 2],
    ]);
  });

  it('logs a repeat after its minute at once, with what was held', async () => {
    const c = capture();
    const r = c.make();
    r.refuse('publish_denied', ctx('a'));
    r.refuse('publish_denied', ctx('a'));
    c.advance(61_000);
    r.refuse('publish_denied', ctx('a'));
    await settle();
    expect(c.lines.map((l) => l.count)).toEqual([1, 2]);
  });

  it('caps new lines per reason when client ids keep changing, and logs the overflow as one line', async () => {
    const c = capture();
    const r = c.make({ linesPerReason: 3 });
    for (let i = 0; i < 10; i++) r.refuse('unknown_sck_token', ctx(`guess${i}`));
    await settle();
    expect(c.lines.length).toBe(3);
    c.advance(60_000);
    r.flush();
    await settle();
    expect(c.lines.slice(3).map((l) => [l.reason, l.count])).toEqual([['unknown_sck_token', 7]]);
    expect(r.counts().unknown_sck_token).toBe(10);
  });
});
