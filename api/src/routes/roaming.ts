import { idSchema } from '@citytel/contract';
import type { Booking } from '@citytel/store';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../errors.ts';

const auth = [{ bearerAuth: [] }];
/** Bookings of one month across the network: ~1000 cars, a few trips a day each. */
const MAX_BOOKINGS = 200_000;

const policySchema = z
  .object({
    accepts: z
      .union([z.literal('*'), z.array(idSchema).max(100)])
      .describe('"*": members of every operator of the network; a list: of those operators only; []: none'),
  })
  .meta({ id: 'RoamingPolicy', description: "Whose members may book the operator's cars" });

const settlementRow = z.object({
  homeOperatorId: z.string().describe("the members' operator, who owes"),
  carOperatorId: z.string().describe("the cars' operator, who is owed"),
  trips: z.number().int().describe('bookings not cancelled that started in the month'),
  hours: z.number().describe('booked hours (to the return when returned early), two decimals'),
  km: z.number().describe('kilometres by the odometer, first unlock to end, one decimal'),
  tripsWithoutKm: z
    .number()
    .int()
    .describe('trips whose odometer readings are missing (never unlocked, car silent)'),
});
type SettlementRow = z.infer<typeof settlementRow>;

/** Trips of members of one operator on another's cars, per ordered pair: each trip counted once, for its pair. */
export function settle(bookings: Booking[], from: Date, to: Date): SettlementRow[] {
  const rows = new Map<string, SettlementRow & { ms: number; m: number }>();
  for (const b of bookings) {
    if (b.cancelledAt || b.homeOperatorId === b.operatorId) continue;
    if (b.start < from || b.start >= to) continue;
    const key = `${b.homeOperatorId}\n${b.operatorId}`;
    let r = rows.get(key);
    if (!r) {
      r = {
        homeOperatorId: b.homeOperatorId,
        carOperatorId: b.operatorId,
        trips: 0,
        hours: 0,
        km: 0,
        tripsWithoutKm: 0,
        ms: 0,
        m: 0,
      };
      rows.set(key, r);
    }
    r.trips++;
    r.ms += b.end.getTime() - b.start.getTime();
    if (b.odometerStartKm !== null && b.odometerEndKm !== null)
      r.m += Math.max(0, Math.round((b.odometerEndKm - b.odometerStartKm) * 1000));
    else r.tripsWithoutKm++;
  }
  return [...rows.values()]
    .sort(
      (a, b) =>
        a.homeOperatorId.localeCompare(b.homeOperatorId) || a.carOperatorId.localeCompare(b.carOperatorId),
    )
    .map(({ ms, m, ...r }) => ({ ...r, hours: Math.round(ms / 36_000) / 100, km: Math.round(m / 100) / 10 }));
}

const csvCell = (v: string | number) => (typeof v === 'number' ? String(v) : `"${v.replaceAll('"', '""')}"`);

/**
 * Roaming between the network's operators: each one's policy (whose members may book its cars), and the
 * monthly settlement of trips by members of one operator on another's cars.
 */
export const roamingRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/api/v1/roaming/policy',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: "The operator's roaming policy",
        description: 'An operator that never set one accepts no visiting members.',
        security: auth,
        response: { 200: policySchema, ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-store');
      return { accepts: await app.store.roaming.accepts(request.operator!.id) };
    },
  );

  app.put(
    '/api/v1/roaming/policy',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: "Set whose members may book the operator's cars",
        security: auth,
        body: policySchema,
        response: { 200: policySchema, ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      await app.store.roaming.setAccepts(request.operator!.id, request.body.accepts);
      request.log.info(
        { operator: request.operator!.id, accepts: request.body.accepts },
        'roaming policy set',
      );
      reply.header('Cache-Control', 'no-store');
      return { accepts: await app.store.roaming.accepts(request.operator!.id) };
    },
  );

  app.get(
    '/api/v1/roaming/settlement',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: 'Monthly roaming settlement per pair of operators',
        description:
          "Per ordered pair (the members' operator, the cars' operator): trips that started in the month (UTC), " +
          'booked hours and kilometres. An operator sees the pairs it is part of; an admin, all. JSON, or CSV ' +
          'with `format=csv`.',
        security: auth,
        querystring: z.object({
          month: z
            .string()
            .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'YYYY-MM')
            .describe('the month, UTC'),
          format: z.enum(['json', 'csv']).default('json'),
        }),
        response: {
          200: z.object({ month: z.string(), pairs: z.array(settlementRow) }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request, reply) => {
      const op = request.operator!;
      const [y, m] = request.query.month.split('-').map(Number) as [number, number];
      const from = new Date(Date.UTC(y, m - 1, 1));
      const to = new Date(Date.UTC(y, m, 1));
      const bookings = await app.store.bookings.list({
        visibleTo: op.admin ? undefined : op.id,
        from,
        to,
        limit: MAX_BOOKINGS,
      });
      const pairs = settle(bookings, from, to);
      reply.header('Cache-Control', 'no-store');
      if (request.query.format === 'csv') {
        const header = 'month,home_operator,car_operator,trips,hours,km,trips_without_km';
        const lines = pairs.map((p) =>
          [request.query.month, p.homeOperatorId, p.carOperatorId, p.trips, p.hours, p.km, p.tripsWithoutKm]
            .map(csvCell)
            .join(','),
        );
        return reply
          .type('text/csv; charset=utf-8')
          .header('Content-Disposition', `attachment; filename="roaming-${request.query.month}.csv"`)
          .serializer((x: unknown) => x as string)
          .send(`${[header, ...lines].join('\n')}\n` as never);
      }
      return { month: request.query.month, pairs };
    },
  );
};
