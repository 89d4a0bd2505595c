import type { Logger } from 'pino';
import type { SimStats } from './stats.ts';

export const formatStats = (s: SimStats): string =>
  `kits ${s.kitsOnline}/${s.kits} online · vehicles ${s.vehiclesOnline}/${s.vehicles} online · ` +
  `${s.messages} msgs · ${s.httpPosts} http posts · ${s.commands} cmds/${s.acks} acks · ${s.errors} errors`;

/**
 * The running line: on a terminal, one line rewritten every 2 s on stderr; otherwise (a log file, a
 * container) one pino info line every 30 s, so logs stay readable.
 */
export function startProgress(
  stats: () => SimStats,
  log: Logger,
  opts: { tty?: boolean; ttyEveryMs?: number; logEveryMs?: number } = {},
): { stop(): void } {
  const tty = opts.tty ?? process.stderr.isTTY === true;
  const timer = setInterval(
    () => {
      const s = stats();
      if (tty) process.stderr.write(`\r\x1b[K${formatStats(s)}`);
      else log.info({ progress: s }, formatStats(s));
    },
    tty ? (opts.ttyEveryMs ?? 2000) : (opts.logEveryMs ?? 30_000),
  );
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (tty) process.stderr.write('\n');
    },
  };
}
