import { INGEST_STREAM } from '@citytel/contract';

/** One stream entry as the brokers append it (contract ingest-stream.ts): the MQTT topic and stamped payload. */
export interface StreamEntry {
  id: string;
  topic: string;
  payload: Buffer;
  /** A pending entry whose content is gone from the stream (trimmed by something else). */
  missing?: true;
}

const TOPIC = Buffer.from(INGEST_STREAM.fields.topic);
const PAYLOAD = Buffer.from(INGEST_STREAM.fields.payload);
const EMPTY: Buffer = Buffer.alloc(0);

/**
 * The entries of an XREADGROUP reply read as buffers (`[[key, [[id, [field, value, …]], …]]]`, or null
 * when a blocking read timed out). An entry without the expected fields still becomes a message (topic
 * '' or payload empty): the pipeline refuses it with a reason and it is acknowledged like any other.
 */
export function parseReply(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  const out: StreamEntry[] = [];
  for (const stream of reply as Array<[unknown, unknown]>) {
    const entries = stream?.[1];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries as Array<[Buffer | string, unknown]>) {
      const id = String(entry[0]);
      const fields = entry[1];
      if (!Array.isArray(fields)) {
        out.push({ id, topic: '', payload: EMPTY, missing: true });
        continue;
      }
      let topic = '';
      let payload: Buffer = EMPTY;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const name = toBuffer(fields[i]);
        if (name.equals(TOPIC)) topic = toBuffer(fields[i + 1]).toString();
        else if (name.equals(PAYLOAD)) payload = toBuffer(fields[i + 1]);
      }
      out.push({ id, topic, payload });
    }
  }
  return out;
}

const toBuffer = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(String(v ?? '')));

export interface GroupInfo {
  name: string;
  pending: number;
  lastDeliveredId: string;
}

/** XINFO GROUPS: one flat `[name, value, …]` array per group. */
export function parseGroups(reply: unknown): GroupInfo[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((flat: unknown[]) => {
    const m = new Map<string, unknown>();
    for (let i = 0; i + 1 < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
    return {
      name: String(m.get('name')),
      pending: Number(m.get('pending') ?? 0),
      lastDeliveredId: String(m.get('last-delivered-id') ?? '0-0'),
    };
  });
}

/** Stream ids `ms-seq` compare as two integers. */
export function compareIds(a: string, b: string): number {
  const [am, as] = split(a);
  const [bm, bs] = split(b);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : am < bm ? -1 : 1;
}

/** The smallest id after `id`: XTRIM MINID keeps it and everything above. */
export function nextId(id: string): string {
  const [ms, seq] = split(id);
  return `${ms}-${seq + 1n}`;
}

export function lowestFloor(ids: string[]): string | undefined {
  let low: string | undefined;
  for (const id of ids) if (low === undefined || compareIds(id, low) < 0) low = id;
  return low;
}

function split(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  return dash < 0 ? [BigInt(id), 0n] : [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}
