import { decodeAirrohr } from './payloads/airrohr.ts';
import { decodeNative } from './payloads/native.ts';
import { decodeSckJson, decodeSckRaw } from './payloads/sck.ts';
import { type DecodeResult, failed } from './reading.ts';
import type { TopicKind } from './topics.ts';

/** Sensor decoders by topic kind: one entry per format of CONTRACT §2. */
export const SENSOR_DECODERS: Partial<Record<TopicKind, (payload: string) => DecodeResult>> = {
  native: decodeNative,
  airrohr: decodeAirrohr,
  'sck-raw': decodeSckRaw,
  'sck-json': decodeSckJson,
};

// One for every message: without `stream`, a decode keeps no state between calls.
const UTF8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Decodes any sensor message; never throws. Bytes that are not UTF-8 text are refused whole, so a
 * decoder only ever sees text.
 */
export function decodeSensorMessage(kind: TopicKind, payload: Buffer): DecodeResult {
  if (!SENSOR_DECODERS[kind]) return failed('schema', `no sensor decoder for ${kind}`);
  const text = UTF8.decode(payload);
  if (text.includes('\uFFFD')) return failed('malformed', 'payload is not valid UTF-8 text');
  return decodeSensorText(kind, text);
}

/**
 * Decodes a sensor message already known to be text (ingest reads ASCII payloads as latin1 without
 * decoding UTF-8); never throws.
 */
export function decodeSensorText(kind: TopicKind, text: string): DecodeResult {
  const decoder = SENSOR_DECODERS[kind];
  if (!decoder) return failed('schema', `no sensor decoder for ${kind}`);
  try {
    return decoder(text);
  } catch (e) {
    // Decoders are written not to throw; this keeps one bug from stopping the stream.
    return failed('malformed', `decoder error: ${(e as Error).message.slice(0, 200)}`);
  }
}
