import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import {
  type BookingList,
  bookingListSchema,
  type OfflineLogEvent,
  type SignedBookings,
  signedBookingsSchema,
} from '@citytel/contract';

/** How a card reader turns the card it reads into the credential the platform sent (CONTRACT §3). */
export const cardCredential = (cardId: string): string =>
  createHash('sha256').update(`card:${cardId}`).digest('hex');

/** The unit's check of a booking list: the platform's signature, then the shape. */
export function openSignedBookings(payload: string, key: KeyObject): BookingList | undefined {
  let wire: SignedBookings;
  try {
    const parsed = signedBookingsSchema.safeParse(JSON.parse(payload));
    if (!parsed.success) return undefined;
    wire = parsed.data;
  } catch {
    return undefined;
  }
  const bytes = Buffer.from(wire.body, 'base64url');
  if (!verify(null, bytes, key, Buffer.from(wire.sig, 'base64url'))) return undefined;
  try {
    const list = bookingListSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return list.success ? list.data : undefined;
  } catch {
    return undefined;
  }
}

export type TapDecision =
  | { open: true; bookingId: string }
  | { open: false; reason: NonNullable<OfflineLogEvent['reason']>; bookingId?: string };

/**
 * What an on-board unit keeps to open with no network, as Invers and Convadis units do: the latest signed
 * list of its bookings and the log of what it did, uploaded when it is back. It trusts only lists signed by
 * the platform's key, for itself, newer than the last one it accepted (a replayed older list, say one from
 * before a cancellation, changes nothing).
 */
export class OfflineBook {
  private key: KeyObject | undefined;
  private list: BookingList | undefined;
  private seqOut = 0;
  /** Events not yet acknowledged by the broker, oldest first. */
  readonly pending: OfflineLogEvent[] = [];

  constructor(private readonly vehicleId: string) {}

  trust(publicKeyPem: string): void {
    this.key = createPublicKey(publicKeyPem);
  }

  get listSeq(): number | undefined {
    return this.list?.seq;
  }

  /** Whether the list it holds has this booking, to open for (`passes`). */
  holds(bookingId: string): boolean {
    return this.list?.passes.some((p) => p.bookingId === bookingId) ?? false;
  }

  /** A message on `vehicles/{id}/bookings`. */
  accept(payload: string): 'accepted' | 'stale' | 'invalid' | 'untrusted' {
    if (!this.key) return 'untrusted';
    const list = openSignedBookings(payload, this.key);
    if (!list || list.vehicleId !== this.vehicleId) return 'invalid';
    if (this.list && list.seq <= this.list.seq) return 'stale';
    this.list = list;
    return 'accepted';
  }

  /** A member taps a card at `nowMs` (the unit's clock): open or not, and the log entry for it. */
  tap(credential: string, nowMs: number): TapDecision {
    const list = this.list;
    const decision = ((): TapDecision => {
      if (!list) return { open: false, reason: 'unknown_credential' };
      const mine = list.passes.filter((p) => p.credential === credential);
      const graceMs = list.graceS * 1000;
      const open = mine.find((p) => Date.parse(p.start) - graceMs <= nowMs && nowMs < Date.parse(p.end));
      if (open) return { open: true, bookingId: open.bookingId };
      const later = mine.find((p) => nowMs < Date.parse(p.start) - graceMs);
      if (later) return { open: false, reason: 'not_yet', bookingId: later.bookingId };
      const past = mine.find((p) => nowMs >= Date.parse(p.end));
      if (past) return { open: false, reason: 'expired', bookingId: past.bookingId };
      const cancelled = list.cancelled.find((c) => c.credential === credential);
      if (cancelled) return { open: false, reason: 'cancelled', bookingId: cancelled.bookingId };
      return { open: false, reason: 'unknown_credential' };
    })();
    this.record(decision, nowMs);
    return decision;
  }

  private record(d: TapDecision, nowMs: number): void {
    this.pending.push({
      seq: ++this.seqOut,
      ts: new Date(nowMs).toISOString(),
      event: d.open ? 'opened' : 'refused',
      ...(d.bookingId ? { bookingId: d.bookingId } : {}),
      ...(d.open ? {} : { reason: d.reason }),
    });
  }

  /** Drops the first `n` pending events once the broker acknowledged their upload. */
  uploaded(n: number): void {
    this.pending.splice(0, n);
  }
}
