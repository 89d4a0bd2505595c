import { geohash } from '@citytel/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReadStack, startReadStack, type TestReading } from './helpers/api-read.ts';

/**
 * END noise indicators read back from a real InfluxDB: a synthetic local day in Paris (summer, UTC+2) with
 * 60 dB(A) by day, 55 in the evening and 50 at night has the closed-form Lden
 * 10·lg((12·10^6 + 4·10^((55+5)/10) + 8·10^((50+10)/10))/24) = 60 dB.
 */

const MIN = 60_000;
const HOUR = 3_600_000;
const KIT = { lat: 48.1113, lon: -1.68 };
// 07:00 local (CEST) on 10 June 2026.
const DAY_START = Date.UTC(2026, 5, 10, 5);
const localHour = (t: number) => (new Date(t).getUTCHours() + 2) % 24;
const levelAt = (h: number) => (h >= 7 && h < 19 ? 60 : h >= 19 && h < 23 ? 55 : 50);

const readings: TestReading[] = [];
for (let t = DAY_START; t < DAY_START + 24 * HOUR; t += 15 * MIN) {
  readings.push({
    device: 'kit-a',
    kind: 'native',
    loc: 'fixed',
    t,
    ...KIT,
    values: { noise_laeq: levelAt(localHour(t)) },
  });
}

let stack: ReadStack;
beforeAll(async () => {
  stack = await startReadStack({ devices: [{ id: 'kit-a', kind: 'native', ...KIT }] });
  await stack.write(readings);
});
afterAll(async () => {
  await stack?.close();
});

interface Answer {
  timeZone: string;
  periods: Record<string, string>;
  who: { lden: number; lnight: number };
  days: Array<{
    date: string;
    lday: { level: number; coverage: number; complete: boolean };
    levening: { level: number };
    lnight: { level: number; hours: number; of: number };
    lden: number | null;
    complete: boolean;
  }>;
}

describe('END noise indicators', () => {
  it('a synthetic day gives the closed-form Lden, with its periods, coverage and the WHO marks', async () => {
    const r = await stack.get('/api/v1/devices/kit-a/noise-indicators?from=2026-06-10&to=2026-06-11');
    expect(r.status, await r.clone().text()).toBe(200);
    const body = (await r.json()) as Answer;
    expect(body).toMatchObject({
      timeZone: 'Europe/Paris',
      periods: { day: '07:00–19:00', evening: '19:00–23:00', night: '23:00–07:00' },
      who: { lden: 53, lnight: 45 },
    });
    expect(body.days).toEqual([
      {
        date: '2026-06-10',
        lday: { level: 60, hours: 12, of: 12, coverage: 1, complete: true },
        levening: { level: 55, hours: 4, of: 4, coverage: 1, complete: true },
        lnight: { level: 50, hours: 8, of: 8, coverage: 1, complete: true },
        lden: 60,
        complete: true,
      },
    ]);
  });

  it('per map cell, the same from the one kit in it', async () => {
    const cell = geohash(KIT).slice(0, 5);
    const r = await stack.get(`/api/v1/noise-indicators?cell=${cell}&from=2026-06-10&to=2026-06-11`);
    expect(r.status, await r.clone().text()).toBe(200);
    const body = (await r.json()) as Answer & { cell: string };
    expect(body.cell).toBe(cell);
    expect(body.days.map((d) => [d.date, d.lden, d.lnight.level])).toEqual([['2026-06-10', 60, 50]]);
  });

  it('a day without its night has no Lden; a bad date is a 400 naming it', async () => {
    await stack.query.query(
      `DELETE FROM "readings" WHERE time >= ${DAY_START + 16 * HOUR}ms AND time < ${DAY_START + 24 * HOUR}ms`,
    );
    try {
      const body = (await (
        await stack.get('/api/v1/devices/kit-a/noise-indicators?from=2026-06-10&to=2026-06-11')
      ).json()) as Answer;
      expect(body.days[0]).toMatchObject({
        lden: null,
        complete: false,
        lnight: { level: null, hours: 0, of: 8 },
      });
    } finally {
      await stack.write(readings.filter((x) => x.t >= DAY_START + 16 * HOUR));
    }
    const bad = await stack.get('/api/v1/devices/kit-a/noise-indicators?from=2026-13-40');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('querystring.from');
  });
});
