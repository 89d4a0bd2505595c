import type { CommandAction } from '@citytel/contract';
import type { Booking, Device, Operator } from '@citytel/store';
import type { ErrorCode } from '../errors.ts';

/** Why a request is refused: a registry code and a sentence for people. */
export interface Refusal {
  code: ErrorCode;
  message: string;
}

/** The car, if this operator may command it: its owner, or an admin. */
export function vehicleRefusal(
  vehicleId: string,
  device: Device | undefined,
  operator: Operator,
): Refusal | undefined {
  if (device?.kind !== 'vehicle') return { code: 'vehicle_not_found', message: `no vehicle ${vehicleId}` };
  if (!operator.admin && device.operatorId !== operator.id)
    return { code: 'not_your_vehicle', message: `vehicle ${vehicleId} belongs to another operator` };
  return undefined;
}

export interface CommandAsk {
  vehicleId: string;
  action: CommandAction;
  /** The member the operator acts for, when it says so. */
  memberId?: string | undefined;
  now: Date;
  /** How long before its start a booking already opens the car. */
  graceMs: number;
}

/**
 * CONTRACT §3: `unlock` only inside an active booking of that car, from `start` minus the grace period to
 * `end`; `lock` at any time, by the booking's member or the operator (a member who brings the car back late,
 * or an operator closing a car a member left open, must always be able to lock it).
 */
export function bookingRefusal(booking: Booking, ask: CommandAsk): Refusal | undefined {
  if (booking.vehicleId !== ask.vehicleId) {
    return {
      code: 'booking_other_vehicle',
      message: `booking ${booking.id} is for vehicle ${booking.vehicleId}, not ${ask.vehicleId}`,
    };
  }
  if (ask.memberId !== undefined && ask.memberId !== booking.memberId) {
    return { code: 'not_booking_member', message: `booking ${booking.id} belongs to another member` };
  }
  if (ask.action === 'lock') return undefined;
  if (booking.cancelledAt) {
    return {
      code: 'booking_cancelled',
      message: `booking ${booking.id} was cancelled at ${booking.cancelledAt.toISOString()}`,
    };
  }
  const opens = new Date(booking.start.getTime() - ask.graceMs);
  if (ask.now < opens) {
    return {
      code: 'booking_not_active',
      message: `booking ${booking.id} starts at ${booking.start.toISOString()}; the car opens from ${opens.toISOString()}`,
    };
  }
  if (ask.now >= booking.end) {
    return {
      code: 'booking_not_active',
      message: `booking ${booking.id} ended at ${booking.end.toISOString()}`,
    };
  }
  return undefined;
}

/** A booking as clients see its place in time (cancelled wins over the clock). */
export type BookingStatus = 'upcoming' | 'active' | 'ended' | 'cancelled';

export function bookingStatus(b: Booking, now: Date): BookingStatus {
  if (b.cancelledAt) return 'cancelled';
  if (now < b.start) return 'upcoming';
  return now < b.end ? 'active' : 'ended';
}
