/**
 * Local clock time of a city, from Intl: the daily cycles of traffic and weather follow local time,
 * daylight saving included. The UTC offset changes twice a year, so it is cached per UTC hour.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, number>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Minutes to add to UTC to get local time at `ms`. */
export function utcOffsetMinutes(ms: number, timeZone: string): number {
  const key = `${timeZone}|${Math.floor(ms / 3_600_000)}`;
  const cached = offsets.get(key);
  if (cached !== undefined) return cached;
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
  );
  const offset = Math.round((asUtc - Math.floor(ms / 60_000) * 60_000) / 60_000);
  if (offsets.size > 10_000) offsets.clear();
  offsets.set(key, offset);
  return offset;
}

export interface LocalTime {
  /** Fractional hour of the local day, 0 ≤ h < 24. */
  hour: number;
  /** 0 = Sunday … 6 = Saturday, local. */
  weekday: number;
  /** Day of the year, 0-based, local. */
  dayOfYear: number;
}

export function localTime(ms: number, timeZone: string): LocalTime {
  const local = new Date(ms + utcOffsetMinutes(ms, timeZone) * 60_000);
  const hour = local.getUTCHours() + local.getUTCMinutes() / 60 + local.getUTCSeconds() / 3600;
  const dayOfYear = Math.floor((local.getTime() - Date.UTC(local.getUTCFullYear(), 0, 1)) / 86_400_000);
  return { hour, weekday: local.getUTCDay(), dayOfYear };
}
