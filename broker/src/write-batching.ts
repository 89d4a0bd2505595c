import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * One write to the socket per turn of the event loop instead of one per packet.
 *
 * mqtt-packet corks the stream for each packet and uncorks it on the next tick; Aedes delivers each QoS 1
 * packet from a setImmediate of its own, so every delivery became a `writev` system call (a quarter of the
 * broker's time under load). Here the uncork that flushes waits for the next setImmediate, so the packets of
 * one turn leave together. They are sent at most one loop turn later; backpressure is unchanged (`write`
 * still returns false above the high-water mark, and 'drain' follows the flush).
 */
export function batchWrites(stream: Duplex): void {
  if (!(stream instanceof Socket)) return;
  const uncork = stream.uncork.bind(stream);
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    while (stream.writableCorked > 0) uncork();
  };
  stream.uncork = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  // A refusal's CONNACK is written and the socket destroyed in the same turn: flush before closing.
  const destroy = stream.destroy.bind(stream);
  stream.destroy = (err?: Error) => {
    flush();
    return destroy(err);
  };
  const end = stream.end.bind(stream) as (...args: unknown[]) => Socket;
  stream.end = ((...args: unknown[]) => {
    flush();
    return end(...args);
  }) as Socket['end'];
}
