import { createHash } from 'node:crypto';
import { apiError } from '../errors.ts';

/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): any visible ASCII up to 255 characters,
 * typically a UUID the client made. Keys are scoped to the operator that sends them.
 */
const KEY = /^[\x21-\x7e]{1,255}$/;

export function requireIdempotencyKey(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '')
    throw apiError(
      'idempotency_key_required',
      'an Idempotency-Key header is required on every command request',
    );
  if (!KEY.test(value))
    throw apiError('invalid_parameter', 'headers.idempotency-key: 1 to 255 visible ASCII characters');
  return value;
}

/** What makes two requests "the same": the car and the body, in a fixed order. `wait` is not part of it. */
export function requestHash(parts: {
  vehicleId: string;
  action: string;
  bookingId: string;
  memberId?: string | undefined;
  queue: boolean;
  ttlS?: number | undefined;
}): string {
  const canonical = JSON.stringify([
    parts.vehicleId,
    parts.action,
    parts.bookingId,
    parts.memberId ?? null,
    parts.queue,
    parts.ttlS ?? null,
  ]);
  return createHash('sha256').update(canonical).digest('base64url');
}
