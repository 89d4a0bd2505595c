/**
 * Cluster mode (REDIS_URL set, CONTRACT §5): Aedes has no MQTT shared subscriptions (moscajs/aedes#228), so
 * each broker appends every accepted device data message to one Redis Stream before it acknowledges the
 * publish to the device, and the ingest workers read that stream as one consumer group. One entry is one
 * MQTT message, exactly as the direct subscription would have delivered it.
 */
export const INGEST_STREAM = {
  /** Default stream key; INGEST_STREAM_KEY overrides it (several cities on one Redis). */
  key: 'citytel:ingest',
  /** Default consumer group of the ingest workers. */
  group: 'ingest',
  /** Entry fields: the MQTT topic, and the payload as received, already carrying the broker's stamp. */
  fields: { topic: 't', payload: 'p' },
} as const;

/** One stream entry's fields, in XADD order. `payload` is the stamped payload (stamp.ts). */
export function streamEntryFields(topic: string, stampedPayload: Buffer): [string, string, string, Buffer] {
  return [INGEST_STREAM.fields.topic, topic, INGEST_STREAM.fields.payload, stampedPayload];
}
