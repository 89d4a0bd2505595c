import { promName, renderFamily, type Sample } from './prom.ts';

/**
 * The latest figures each process publishes on `$SYS/citytel/{process}/{instance}/stats`: a JSON object of
 * numbers and of `{name: count}` maps. They are rendered generically as gauges
 * `citytel_{process}_{key}{instance="..."}` (a map adds a `key` label), so a process can publish a new
 * figure without a change here. An instance silent for `staleMs` is dropped: it was stopped or restarted
 * under another name.
 */
export interface StatsBoard {
  /** Takes one stats message; returns false when the topic or the payload is not stats. */
  update(topic: string, payload: Buffer | string, now?: number): boolean;
  render(now?: number): string;
}

const STATS_TOPIC = /^\$SYS\/citytel\/([^/]+)\/([^/]+)\/stats$/;

interface Entry {
  process: string;
  instance: string;
  at: number;
  figures: Record<string, unknown>;
}

export function createStatsBoard(staleMs = 5 * 60_000): StatsBoard {
  const entries = new Map<string, Entry>();

  return {
    update(topic, payload, now = Date.now()) {
      const m = topic.match(STATS_TOPIC);
      if (!m) return false;
      let figures: unknown;
      try {
        figures = JSON.parse(payload.toString());
      } catch {
        return false;
      }
      if (typeof figures !== 'object' || figures === null || Array.isArray(figures)) return false;
      entries.set(`${m[1]}/${m[2]}`, {
        process: m[1]!,
        instance: m[2]!,
        at: now,
        figures: figures as Record<string, unknown>,
      });
      return true;
    },

    render(now = Date.now()) {
      const families = new Map<string, Sample[]>();
      const add = (name: string, s: Sample) => {
        const list = families.get(name);
        if (list) list.push(s);
        else families.set(name, [s]);
      };
      const ages: Sample[] = [];
      for (const [k, e] of entries) {
        if (now - e.at > staleMs) {
          entries.delete(k);
          continue;
        }
        const prefix = `citytel_${promName(e.process)}_`;
        ages.push({ labels: { process: e.process, instance: e.instance }, value: (now - e.at) / 1000 });
        for (const [key, v] of Object.entries(e.figures)) {
          const name = prefix + promName(key);
          if (typeof v === 'number' && Number.isFinite(v))
            add(name, { labels: { instance: e.instance }, value: v });
          else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
            for (const [sub, n] of Object.entries(v)) {
              if (typeof n === 'number' && Number.isFinite(n)) {
                add(name, { labels: { instance: e.instance, key: sub }, value: n });
              }
            }
          }
        }
      }
      let out = '';
      for (const [name, samples] of [...families].sort(([a], [b]) => (a < b ? -1 : 1))) {
        out += renderFamily(
          name,
          'gauge',
          `figure published by the process on $SYS/citytel/.../stats`,
          samples,
        );
      }
      if (ages.length)
        out += renderFamily('citytel_stats_age_seconds', 'gauge', 'age of the latest stats message', ages);
      return out;
    },
  };
}
