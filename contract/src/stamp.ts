/**
 * The broker's receive time, stamped once on every device data message (CONTRACT §2): the broker prefixes
 * the payload with `\0` + epoch milliseconds + `\0` before it stores or forwards it, so a QoS 1 message
 * redelivered after a crash carries the same time, and a reading lands on the same InfluxDB point twice
 * rather than on two. MQTT 3.1.1 has no message properties to carry it. Only platform services subscribe
 * to device data topics; they unwrap with `unstamp`.
 */
const NUL = 0;

export function stamp(payload: Buffer, receivedAtMs: number): Buffer {
  // Written in place rather than concatenated: the broker stamps every device message.
  const digits = String(receivedAtMs);
  const out = Buffer.allocUnsafe(digits.length + 2 + payload.length);
  out[0] = NUL;
  out.write(digits, 1, 'latin1');
  out[digits.length + 1] = NUL;
  out.set(payload, digits.length + 2);
  return out;
}

export function unstamp(payload: Buffer): { receivedAt?: Date; payload: Buffer } {
  if (payload.length < 3 || payload[0] !== NUL) return { payload };
  // The digits read in place (ingest unstamps every message): a NUL ends them, anything else is no stamp.
  let ms = 0;
  let end = 1;
  for (; end < payload.length && end <= 17; end++) {
    const byte = payload[end]!;
    if (byte === NUL) break;
    if (byte < 48 || byte > 57) return { payload };
    ms = ms * 10 + (byte - 48);
  }
  if (end < 2 || end > 17 || payload[end] !== NUL || !Number.isSafeInteger(ms)) return { payload };
  return { receivedAt: new Date(ms), payload: payload.subarray(end + 1) };
}
