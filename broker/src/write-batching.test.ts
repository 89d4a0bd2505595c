import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { batchWrites } from './write-batching.ts';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A loopback pair: the server side batched, the client side reading everything it gets. */
async function pair(): Promise<{ out: Socket; received: () => Buffer; client: Socket }> {
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer(resolve);
  });
  server!.listen(0, '127.0.0.1');
  await once(server!, 'listening');
  const { port } = server!.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  const out = await accepted;
  batchWrites(out);
  return { out, client, received: () => Buffer.concat(chunks) };
}

const until = async (ok: () => boolean) => {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > 5000) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('write batching', () => {
  it('sends the pieces of a turn in order, strings and buffers alike, in one write', async () => {
    const { out, client, received } = await pair();
    expect(out.cork).toBeUndefined(); // mqtt-packet corks only streams that offer it
    let expected = '';
    for (let i = 0; i < 500; i++) {
      const piece = `piece-${i};`;
      expected += piece;
      out.write(i % 2 ? piece : Buffer.from(piece));
    }
    expect(received().length).toBe(0); // nothing left before the turn ended
    await until(() => received().length === expected.length);
    expect(received().toString()).toBe(expected);
    client.destroy();
    out.destroy();
  });

  it('says false past the high-water mark, then drains', async () => {
    const { out, client, received } = await pair();
    const big = Buffer.alloc(out.writableHighWaterMark / 4, 1);
    const answers = [1, 2, 3, 4, 5].map(() => out.write(big));
    expect(answers.slice(0, 3)).toEqual([true, true, true]);
    expect(answers[4]).toBe(false);
    await once(out, 'drain');
    await until(() => received().length === big.length * 5);
    client.destroy();
    out.destroy();
  });

  it('keeps order with a write that has a callback, and flushes before end', async () => {
    const { out, client, received } = await pair();
    out.write('a');
    out.write(Buffer.from('b'));
    await new Promise<void>((r) => out.write('c', () => r()));
    out.write('d');
    out.end('e');
    await once(client, 'end');
    expect(received().toString()).toBe('abcde');
    client.destroy();
  });
});
