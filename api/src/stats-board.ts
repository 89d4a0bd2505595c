import {
  type LabelledFigures,
  type PromMetric,
  parseStatsTopic,
  STATS_FAMILIES,
  statsMetrics,
} from '@citytel/contract';

/**
 * The latest figures each process publishes on its stats topic (statsTopic: the broker's
 * `$SYS/citytel/broker/{id}/stats`, ingest's `citytel/ingest/{id}/stats` and, for one release, its former
 * `$SYS/citytel/ingest/{id}/stats`), relayed on the api's /metrics under the same names and types as the
 * process's own /metrics (the contract's family table), with an `instance` label. Where Prometheus
 * scrapes broker and ingest directly, it drops these (deploy/prometheus.yml); they serve setups where the
 * api is the one endpoint. An instance silent for `staleMs` is dropped: it was stopped or renamed.
 */
export interface StatsBoard {
  /** Takes one stats message; returns false when the topic or the payload is not stats. */
  update(topic: string, payload: Buffer | string, now?: number): boolean;
  /** Metrics for prom-client's Registry.registerMetric, read on each scrape. */
  metrics(): PromMetric[];
  /** The figures held now (stale ones dropped), for tests and the age gauge. */
  entries(now?: number): Entry[];
}

export interface Entry {
  process: 'broker' | 'ingest';
  instance: string;
  legacy: boolean;
  at: number;
  figures: Record<string, unknown>;
}

export function createStatsBoard(staleMs = 5 * 60_000): StatsBoard {
  const held = new Map<string, Entry>();

  const entries = (now = Date.now()): Entry[] => {
    const out: Entry[] = [];
    for (const [k, e] of held) {
      if (now - e.at > staleMs) held.delete(k);
      else out.push(e);
    }
    return out;
  };
  const of = (process: Entry['process']) => (): LabelledFigures[] =>
    entries()
      .filter((e) => e.process === process)
      .map((e) => ({ figures: e.figures, labels: { instance: e.instance } }));

  const age: PromMetric = {
    name: 'citytel_stats_age_seconds',
    help: 'Age of the latest stats message of each process instance',
    type: 'gauge',
    aggregator: 'sum',
    async get() {
      const now = Date.now();
      const values = entries(now).map((e) => ({
        labels: { process: e.process, instance: e.instance },
        value: (now - e.at) / 1000,
      }));
      return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
  };

  return {
    update(topic, payload, now = Date.now()) {
      const t = parseStatsTopic(topic);
      if (!t) return false;
      let figures: unknown;
      try {
        figures = JSON.parse(payload.toString());
      } catch {
        return false;
      }
      if (typeof figures !== 'object' || figures === null || Array.isArray(figures)) return false;
      const key = `${t.process}/${t.instance}`;
      // During an upgrade an instance may be heard on both ingest topics (the former one retained): the
      // current topic wins while it is fresh.
      const before = held.get(key);
      if (t.legacy && before && !before.legacy && now - before.at <= staleMs) return true;
      held.set(key, {
        process: t.process,
        instance: t.instance,
        legacy: t.legacy,
        at: now,
        figures: figures as Record<string, unknown>,
      });
      return true;
    },
    metrics: () => [
      ...statsMetrics(STATS_FAMILIES.broker, of('broker')),
      ...statsMetrics(STATS_FAMILIES.ingest, of('ingest')),
      age,
    ],
    entries,
  };
}
