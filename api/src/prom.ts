/**
 * Prometheus text exposition format 0.0.4, written by hand: counters, histograms and gauges are a few lines
 * each, and the api exposes only what it measures itself plus the figures other processes publish.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */
export const PROM_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Record<string, string>;
export interface Sample {
  labels: Labels;
  value: number;
}

/** A metric or label name: `[a-zA-Z_:][a-zA-Z0-9_:]*` (colons are for recording rules, so not made here). */
export function promName(s: string): string {
  const n = s.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_+/g, '_');
  return /^[a-zA-Z_]/.test(n) ? n : `_${n}`;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

/** One metric family: HELP, TYPE and its samples, contiguous as the format requires. */
export function renderFamily(
  name: string,
  type: 'counter' | 'gauge' | 'histogram',
  help: string,
  samples: Array<Sample & { suffix?: string }>,
): string {
  const lines = [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
  for (const s of samples)
    lines.push(`${name}${s.suffix ?? ''}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  return `${lines.join('\n')}\n`;
}

const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

export class Counter {
  private readonly values = new Map<string, Sample>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const k = keyOf(labels);
    const s = this.values.get(k);
    if (s) s.value += by;
    else this.values.set(k, { labels, value: by });
  }

  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }

  render(): string {
    return renderFamily(this.name, 'counter', this.help, [...this.values.values()]);
  }
}

/** Request durations in seconds: from a cached answer (~1 ms) to a long export (tens of seconds). */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Histogram {
  private readonly series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = DEFAULT_BUCKETS,
  ) {}

  observe(labels: Labels, value: number): void {
    const k = keyOf(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(): string {
    const samples: Array<Sample & { suffix: string }> = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((le, i) => {
        samples.push({
          suffix: '_bucket',
          labels: { ...s.labels, le: formatValue(le) },
          value: s.counts[i]!,
        });
      });
      samples.push({ suffix: '_bucket', labels: { ...s.labels, le: '+Inf' }, value: s.count });
      samples.push({ suffix: '_sum', labels: s.labels, value: s.sum });
      samples.push({ suffix: '_count', labels: s.labels, value: s.count });
    }
    return renderFamily(this.name, 'histogram', this.help, samples);
  }
}
