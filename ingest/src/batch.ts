import { type Line, lineText } from './points.ts';

/** One message's lines in the writer: how many are not written yet, and what to call once none is left. */
export interface Ticket {
  left: number;
  done: (arg: unknown) => void;
  arg: unknown;
  t0: number;
}

/**
 * One write request: its body, written into one Buffer as its lines arrive (no line kept, no `join` of the
 * batch, no second copy into a Buffer), and which messages its lines belong to (`counts[i]` lines of
 * `tickets[i]`). What the client is given is `lines`: an array of the batch's length whose `join` returns
 * that body (the client's `sendBatch` only reads `length`, calls `join('\n')` and hands the same array back
 * to writeSuccess / writeFailed, on retries too), so a finished request finds its messages by identity
 * instead of looking every line up.
 */
export interface Batch {
  lines: BatchLines;
  /** Lines written into `body` so far. */
  count: number;
  body: Buffer;
  /** Bytes of `body` used, each line with its `\n`. */
  bytes: number;
  /** The first line, for the log of a refused batch. */
  first: Line;
  tickets: Ticket[];
  counts: number[];
}

/** The stand-in for a batch's lines handed to the client: `length` lines, `join` gives the body. */
export type BatchLines = string[];

/**
 * The array the client gets for a batch: `count` (empty) slots, and a `join` of its own that returns the body
 * without its last `\n`. The transport takes the Buffer as it would the joined string (`Buffer.from`).
 */
export function linesOf(body: Buffer, bytes: number, count: number): BatchLines {
  const lines = new Array<string>(count);
  const text = body.subarray(0, Math.max(0, bytes - 1));
  Object.defineProperty(lines, 'join', { value: () => text, enumerable: false });
  return lines;
}

export const EMPTY: BatchLines = [];

/** A batch whose first line is `first`, its body `size` bytes. */
export function newBatch(first: Line, size: number): Batch {
  return {
    lines: EMPTY,
    count: 0,
    body: Buffer.allocUnsafe(size),
    bytes: 0,
    first,
    tickets: [],
    counts: [],
  };
}

/** Makes room for `room` more bytes in `b`'s body; returns the new body's size. */
export function growBody(b: Batch, room: number): number {
  const grown = Buffer.allocUnsafe(Math.max(b.body.length * 2, b.bytes + room));
  b.body.copy(grown, 0, 0, b.bytes);
  b.body = grown;
  return grown.length;
}

/**
 * A batch flushed by time before it filled keeps only what it used: held through an outage, many small
 * batches must not each keep a body sized for a full one.
 */
export function fitBody(b: Batch): void {
  if (b.bytes * 2 < b.body.length) {
    const exact = Buffer.allocUnsafe(b.bytes);
    b.body.copy(exact, 0, 0, b.bytes);
    b.body = exact;
  }
}

export const firstLine = (b: Batch | undefined) => (b ? lineText(b.first).slice(0, 300) : undefined);
