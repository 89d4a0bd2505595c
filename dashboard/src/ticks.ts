/**
 * Time ticks in a city's own zone: at local midnights, or local hours that are multiples of a step, found
 * by reading the local clock (Intl.DateTimeFormat with `timeZone`) rather than adding a fixed offset, so a
 * week that crosses a daylight-saving change keeps its ticks on the local hours. No DOM: unit-tested.
 */

const SCAN_MS = 15 * 60_000;
const formats = new Map<string, Intl.DateTimeFormat>();

function clockOf(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formats.set(timeZone, f);
  }
  return f;
}

/** Local hour and minute of `ms` in `timeZone`. */
export function localClock(ms: number, timeZone: string): { hour: number; minute: number } {
  let hour = 0;
  let minute = 0;
  for (const p of clockOf(timeZone).formatToParts(ms)) {
    if (p.type === 'hour') hour = Number(p.value) % 24;
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return { hour, minute };
}

/**
 * Instants in [x0, x1) at which the local clock of `timeZone` reads a whole hour that is a multiple of
 * `stepHours` (24: local midnights). Zones whose offset has minutes are scanned at quarter hours.
 */
export function timeTicks(x0: number, x1: number, timeZone: string, stepHours: number): number[] {
  const out: number[] = [];
  for (let ms = Math.ceil(x0 / SCAN_MS) * SCAN_MS; ms < x1; ms += SCAN_MS) {
    const { hour, minute } = localClock(ms, timeZone);
    if (minute === 0 && hour % stepHours === 0) out.push(ms);
  }
  return out;
}

/** The tick step for a span: local days over more than two days, 6 hours over more than 12, else hours. */
export const tickStepHours = (spanMs: number): number =>
  spanMs > 2 * 86_400_000 ? 24 : spanMs > 12 * 3_600_000 ? 6 : spanMs > 4 * 3_600_000 ? 2 : 1;
