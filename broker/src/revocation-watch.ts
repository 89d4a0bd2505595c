import { type AuditEntry, REVOKING_ACTIONS, type Store } from '@citytel/store';
import type { Logger } from 'pino';

/**
 * Tells this broker of every revoked device credential (deleted, disabled, secret or token rotated),
 * wherever it was revoked: an api instance, or the provisioning CLI writing the store directly. Each
 * revocation is a row of the store's audit trail; every `intervalMs` the broker reads the rows after the
 * last one it saw (one indexed range read) and drops the device's connections. Every broker of a cluster
 * reads the same store (PostgreSQL), so all of them learn it within one interval, Redis or not.
 *
 * Polling the store rather than a pub/sub notice: the store is where the revocation is written (no notice
 * can be lost between the write and its publication, none is missed by a broker restarting), the CLI
 * reaches it without a broker connection, and it works the same on one machine and in a cluster. Logins
 * do not wait for this: auth.ts checks a cached login against the store's current credential each time.
 */
export function watchRevocations(opts: {
  audit: Store['audit'];
  intervalMs: number;
  onRevoked(deviceId: string, entry: AuditEntry): void;
  log: Logger;
}) {
  let last: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failing = false;

  const poll = async () => {
    try {
      last ??= await opts.audit.latestId();
      for (;;) {
        const entries = await opts.audit.after(last);
        for (const entry of entries) {
          last = entry.id;
          if (REVOKING_ACTIONS.has(entry.action)) opts.onRevoked(entry.target, entry);
        }
        if (entries.length < 500) break;
      }
      if (failing) opts.log.info('revocation watch: store reachable again');
      failing = false;
    } catch (err) {
      if (!failing) opts.log.warn({ err: (err as Error).message }, 'revocation watch: store unreachable');
      failing = true;
    }
  };

  return {
    async start() {
      await poll();
      timer = setInterval(() => {
        running ??= poll().finally(() => {
          running = undefined;
        });
      }, opts.intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
    /** Reads the trail now (tests, and a hint that something was revoked). */
    check: () => poll(),
  };
}
