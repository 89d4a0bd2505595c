import { energyToLevel, levelToEnergy } from './levels.ts';

/**
 * Noise indicators of the Environmental Noise Directive (Directive 2002/49/EC, Annex I): Lday, Levening and
 * Lnight are A-weighted long-term equivalent levels over the day, evening and night periods, and
 *
 *   Lden = 10·lg( (1/24)·( Hd·10^(Lday/10) + He·10^((Levening+5)/10) + Hn·10^((Lnight+10)/10) ) )
 *
 * with Hd, He, Hn the periods' lengths in hours: 12, 4 and 8 by default (07–19, 19–23, 23–07 local
 * time); a Member State may shorten the evening by one or two hours and lengthen the day and/or night
 * (France: 06–18, 18–22, 22–06), and the weights follow the lengths (Annex I, 1). Periods are in the city's
 * local time, daylight saving included: the night of a DST change lasts 7 or 9 hours.
 *
 * Each period's level is the energy mean of its hourly levels (each hour an equivalent level of its
 * readings), so an hour with many readings weighs no more than one with few; its coverage is the share
 * of its hours holding a reading.
 */

export interface EndPeriods {
  /** Local hours at which the day, evening and night periods start (0–23). */
  day: number;
  evening: number;
  night: number;
}

export const DEFAULT_END_PERIODS: EndPeriods = { day: 7, evening: 19, night: 23 };
export const END_SOURCE = 'Directive 2002/49/EC (END), Annex I';

/** `07-19-23` → periods; undefined unless day < evening < night ≤ 24 − 1 and the night is 4 h at least. */
export function parseEndPeriods(text: string): EndPeriods | undefined {
  const m = /^(\d{1,2})-(\d{1,2})-(\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  const [day, evening, night] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!(day < evening && evening < night && night <= 23)) return undefined;
  return { day, evening, night };
}

export const periodHours = (p: EndPeriods) => ({
  day: p.evening - p.day,
  evening: p.night - p.evening,
  night: 24 - (p.night - p.day),
});

/** Lden from the three period levels (the formula above), with the periods' lengths as weights. */
export function lden(
  lday: number,
  levening: number,
  lnight: number,
  p: EndPeriods = DEFAULT_END_PERIODS,
): number {
  const h = periodHours(p);
  return energyToLevel(
    (h.day * levelToEnergy(lday) +
      h.evening * levelToEnergy(levening + 5) +
      h.night * levelToEnergy(lnight + 10)) /
      24,
  );
}

export type EndPeriod = 'day' | 'evening' | 'night';

/** The local date (YYYY-MM-DD) and hour of an instant in a time zone. */
export function localHour(ms: number, fmt: Intl.DateTimeFormat): { date: string; hour: number } {
  let y = '';
  let mo = '';
  let d = '';
  let h = 0;
  for (const part of fmt.formatToParts(ms)) {
    if (part.type === 'year') y = part.value;
    else if (part.type === 'month') mo = part.value;
    else if (part.type === 'day') d = part.value;
    else if (part.type === 'hour') h = Number(part.value) % 24;
  }
  return { date: `${y}-${mo}-${d}`, hour: h };
}

export const localFormat = (timeZone: string): Intl.DateTimeFormat =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    hourCycle: 'h23',
  });

/** Whether a time zone name is one Intl knows. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * The indicator day and period of a local hour: a day's indicators run from its day period's start to the
 * next day's, so the night after 23:00 on the 5th, until 07:00 on the 6th, belongs to the 5th.
 */
function periodOf(date: string, hour: number, p: EndPeriods): { day: string; period: EndPeriod } {
  if (hour >= p.day && hour < p.evening) return { day: date, period: 'day' };
  if (hour >= p.evening && hour < p.night) return { day: date, period: 'evening' };
  return { day: hour >= p.night ? date : previousDate(date), period: 'night' };
}

function previousDate(date: string): string {
  const t = Date.parse(`${date}T12:00:00Z`) - 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

export interface PeriodLevel {
  level: number | null;
  /** Hours of the period holding a reading, and the period's hours that day (7 or 9 for a DST night). */
  hours: number;
  of: number;
  coverage: number;
  complete: boolean;
}

export interface DayIndicators {
  date: string;
  lday: PeriodLevel;
  levening: PeriodLevel;
  lnight: PeriodLevel;
  /** Null unless each period has a level; `complete` when each period reaches the coverage threshold. */
  lden: number | null;
  complete: boolean;
}

/**
 * The indicators of each local day from hourly equivalent levels: `hours` maps the start (epoch ms) of
 * every UTC hour of the range to its level, or null for an hour without readings. The range's hours define
 * each period's length (so a DST night counts 7 or 9). Days whose periods the range does not fully hold
 * are left out.
 */
export function dailyIndicators(
  hours: ReadonlyMap<number, number | null>,
  timeZone: string,
  p: EndPeriods = DEFAULT_END_PERIODS,
  minCoverage = 0.75,
): DayIndicators[] {
  const fmt = localFormat(timeZone);
  const days = new Map<string, Record<EndPeriod, { e: number; n: number; of: number }>>();
  for (const [t, level] of [...hours].sort((a, b) => a[0] - b[0])) {
    const { date, hour } = localHour(t, fmt);
    const { day, period } = periodOf(date, hour, p);
    let d = days.get(day);
    if (!d) {
      d = { day: { e: 0, n: 0, of: 0 }, evening: { e: 0, n: 0, of: 0 }, night: { e: 0, n: 0, of: 0 } };
      days.set(day, d);
    }
    const s = d[period];
    s.of++;
    if (level !== null) {
      s.e += levelToEnergy(level);
      s.n++;
    }
  }
  const want = periodHours(p);
  const out: DayIndicators[] = [];
  for (const [date, d] of days) {
    // A day cut by the range's edges (fewer hours than a DST day's 23) is not a day of indicators.
    if (d.day.of < want.day || d.evening.of < want.evening || d.night.of < want.night - 1) continue;
    const level = (s: { e: number; n: number; of: number }): PeriodLevel => {
      const coverage = s.n / s.of;
      return {
        level: s.n ? round2(energyToLevel(s.e / s.n)) : null,
        hours: s.n,
        of: s.of,
        coverage: Math.round(coverage * 1000) / 1000,
        complete: coverage >= minCoverage,
      };
    };
    const [ld, le, ln] = [level(d.day), level(d.evening), level(d.night)];
    const all = ld.level !== null && le.level !== null && ln.level !== null;
    out.push({
      date,
      lday: ld,
      levening: le,
      lnight: ln,
      lden: all
        ? round2(
            lden(
              energyToLevel(d.day.e / d.day.n),
              energyToLevel(d.evening.e / d.evening.n),
              energyToLevel(d.night.e / d.night.n),
              p,
            ),
          )
        : null,
      complete: ld.complete && le.complete && ln.complete,
    });
  }
  return out.sort((a, b) => (a.date < b.date ? -1 : 1));
}

const round2 = (v: number): number => Math.round(v * 100) / 100;
