import { maskClientId, maskTopic } from '@citytel/contract';
import type { Logger } from 'pino';

/** Why the broker said no; each is counted in stats and logged. */
export const REFUSAL_REASONS = [
  'bad_credentials',
  'unknown_sck_token',
  'no_credentials',
  'client_id_rejected',
  'throttled',
  'will_denied',
  'store_unavailable',
  'publish_denied',
  'subscribe_denied',
  'payload_too_large',
  'packet_too_large',
  'proxy_header',
  'too_many_connections',
  'service_disabled',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface RefusalContext {
  clientId: string | null | undefined;
  username?: string | undefined;
  remoteAddress: string;
  topic?: string;
  detail?: string;
}

export interface Refusals {
  refuse(reason: RefusalReason, ctx: RefusalContext): void;
  /** Every reason with its count since start, zeros included. */
  counts(): Record<RefusalReason, number>;
  /** Logs the repeats held back in windows that have ended; call it now and then. */
  flush(): void;
}

interface Held {
  loggedAt: number;
  repeats: number;
  last: RefusalContext;
}

/**
 * Counts refusals and logs them quietly (conventions: logs): the first refusal of a client id for a reason is
 * logged at once, repeats within the next minute are held and logged as one line with their count. A
 * token guesser changes client id on every try, so each reason also has a budget of new lines per window;
 * past it refusals are only counted, and the overflow is logged as one line.
 */
export function createRefusals(
  log: Logger,
  options: { windowMs?: number; linesPerReason?: number; maxHeld?: number; now?: () => number } = {},
): Refusals {
  const windowMs = options.windowMs ?? 60_000;
  const linesPerReason = options.linesPerReason ?? 50;
  const maxHeld = options.maxHeld ?? 10_000;
  const now = options.now ?? Date.now;

  const counts = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>;
  const held = new Map<string, Held & { reason: RefusalReason }>();
  const budget = new Map<RefusalReason, { since: number; lines: number; overflow: number }>();

  const write = (reason: RefusalReason, ctx: RefusalContext, count: number) => {
    log.warn(
      {
        reason,
        clientId: maskClientId(ctx.clientId),
        username: ctx.username,
        remoteAddress: ctx.remoteAddress,
        topic: maskTopic(ctx.topic),
        detail: ctx.detail,
        count,
      },
      `refused: ${reason}`,
    );
  };

  const writeOverflow = (reason: RefusalReason, count: number) => {
    if (count > 0) log.warn({ reason, count }, `refused: ${reason} (more, not logged one by one)`);
  };

  const spend = (reason: RefusalReason): boolean => {
    const t = now();
    let b = budget.get(reason);
    if (!b || t - b.since >= windowMs) {
      if (b) writeOverflow(reason, b.overflow);
      b = { since: t, lines: 0, overflow: 0 };
      budget.set(reason, b);
    }
    if (b.lines >= linesPerReason || held.size >= maxHeld) {
      b.overflow++;
      return false;
    }
    b.lines++;
    return true;
  };

  return {
    refuse(reason, ctx) {
      counts[reason]++;
      const key = `${reason}\0${ctx.clientId ?? ''}`;
      const h = held.get(key);
      const t = now();
      if (h && t - h.loggedAt < windowMs) {
        h.repeats++;
        h.last = ctx;
        return;
      }
      if (h) {
        // a repeat after its window: one line for it and everything held
        write(reason, ctx, h.repeats + 1);
        h.loggedAt = t;
        h.repeats = 0;
        return;
      }
      if (!spend(reason)) return;
      write(reason, ctx, 1);
      held.set(key, { reason, loggedAt: t, repeats: 0, last: ctx });
    },

    counts: () => ({ ...counts }),

    flush() {
      const t = now();
      for (const [key, h] of held) {
        if (t - h.loggedAt < windowMs) continue;
        if (h.repeats > 0) write(h.reason, h.last, h.repeats);
        held.delete(key);
      }
      for (const [reason, b] of budget) {
        if (t - b.since < windowMs) continue;
        writeOverflow(reason, b.overflow);
        budget.delete(reason);
      }
    },
  };
}
