import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

type WriteCallback = (err?: Error | null) => void;
type SocketWrite = (
  chunk: Buffer | string,
  encoding?: BufferEncoding | WriteCallback,
  cb?: WriteCallback,
) => boolean;

/** Below half of Node's buffer pool size: a turn's first buffer is a slice of the shared pool, not an allocation. */
const FIRST_BYTES = 2048;

/**
 * One write to the socket per turn of the event loop, of one buffer, instead of a write per piece.
 *
 * mqtt-packet writes a PUBLISH as six pieces (header, length, topic length, topic, packet id, payload) and
 * a PUBACK as three, each a `stream.write` with its own queue entry, and corks the stream for every packet
 * (a nextTick per packet to uncork). Under load the broker spent about a tenth of its time in that
 * machinery and in `writev` over hundreds of tiny chunks. Here the pieces written during a turn are copied
 * into one buffer, sent with a single `write` from the next setImmediate, so the packets of one turn leave
 * together and in order.
 *
 * Backpressure is kept: `write` answers false once what waits here plus what the socket holds passes the
 * socket's high-water mark, and a 'drain' follows — the socket's own, or ours when the flushed buffer went
 * straight through. A write with a callback, `end` and `destroy` flush first, so nothing is reordered or
 * dropped. Each flush starts a new buffer, so an idle connection keeps none (10 000 idle devices would
 * otherwise hold one each).
 */
export function batchWrites(stream: Duplex): void {
  if (!(stream instanceof Socket)) return;
  const socket = stream;
  const write = socket.write.bind(socket) as SocketWrite;
  let buf: Buffer | undefined;
  let used = 0;
  let scheduled = false;
  let owesDrain = false;

  const flush = () => {
    scheduled = false;
    if (used === 0 || !buf) return;
    const out = buf.subarray(0, used);
    used = 0;
    buf = undefined;
    if (socket.destroyed) {
      owesDrain = false;
      return;
    }
    const ok = write(out);
    if (!ok)
      owesDrain = false; // the socket emits 'drain' itself once it empties
    else if (owesDrain) {
      owesDrain = false;
      process.nextTick(() => socket.emit('drain'));
    }
  };

  const room = (bytes: number) => {
    if (!buf) buf = Buffer.allocUnsafe(Math.max(FIRST_BYTES, bytes));
    else if (used + bytes > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, used + bytes));
      buf.copy(bigger, 0, 0, used);
      buf = bigger;
    }
    return buf;
  };

  socket.write = ((chunk: Buffer | string, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback) => {
    if (typeof encoding === 'function' || cb || socket.destroyed || socket.writableEnded) {
      flush();
      return write(chunk, encoding, cb);
    }
    if (typeof chunk === 'string') {
      const enc = encoding ?? 'utf8';
      const bytes = Buffer.byteLength(chunk, enc);
      used += room(bytes).write(chunk, used, bytes, enc);
    } else {
      room(chunk.length).set(chunk, used);
      used += chunk.length;
    }
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    if (socket.writableLength + used < socket.writableHighWaterMark) return true;
    owesDrain = true;
    return false;
  }) as Socket['write'];

  // mqtt-packet corks and schedules an uncork for every packet when the stream can; with the pieces
  // gathered here that is work for nothing, so this socket offers no cork.
  Object.defineProperty(socket, 'cork', { value: undefined, configurable: true, writable: true });

  // A refusal's CONNACK is written and the socket destroyed in the same turn: flush before closing.
  const destroy = socket.destroy.bind(socket);
  socket.destroy = (err?: Error) => {
    flush();
    return destroy(err);
  };
  const end = socket.end.bind(socket) as (...args: unknown[]) => Socket;
  socket.end = ((...args: unknown[]) => {
    flush();
    return end(...args);
  }) as Socket['end'];
}
