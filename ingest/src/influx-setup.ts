import { ensureInfluxDatabase, type InfluxSetup, influxTarget } from '@citytel/contract';
import type { Logger } from 'pino';
import type { IngestConfig } from './config.ts';

const RETRY_MS = 5000;
/** How long start() waits for the first answer before going on (points are held meanwhile). */
const FIRST_WAIT_MS = 6000;

/**
 * The database ingest writes to, made when missing (contract's influx-setup.ts). A refusal is said once, as
 * an error naming the variable and what to run; the writer holds the points meanwhile, so creating the
 * database by hand lets them through with no restart. An unreachable InfluxDB is asked again every 5 s.
 */
export function createInfluxSetup(config: IngestConfig, log: Logger) {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let last: InfluxSetup | undefined;
  const attempt = async (): Promise<void> => {
    const r = await ensureInfluxDatabase(influxTarget(config)).catch(
      (err: Error): InfluxSetup => ({ state: 'unreachable', message: err.message }),
    );
    const first = last === undefined;
    last = r;
    if (r.state === 'ready') {
      if (r.created) log.info({ db: config.INFLUX_BUCKET ?? config.INFLUX_DB }, 'InfluxDB database created');
      return;
    }
    if (r.state === 'refused') {
      log.error({ influx: config.INFLUX_URL, db: config.INFLUX_BUCKET ?? config.INFLUX_DB }, r.message);
      return;
    }
    if (first)
      log.warn(
        { influx: config.INFLUX_URL, err: r.message },
        'InfluxDB not reachable yet: its database is checked when it is',
      );
    if (!stopped) {
      timer = setTimeout(() => void attempt(), RETRY_MS);
      timer.unref();
    }
  };
  return {
    async start(): Promise<void> {
      const first = attempt();
      await Promise.race([first, new Promise((r) => setTimeout(r, FIRST_WAIT_MS).unref())]);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    state: () => last,
  };
}
