import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { fleetSchema, isAvailable, operatorVehicle, publicVehicle } from '../commands/fleet-view.ts';
import { errorResponses } from '../errors.ts';

/** A fleet has about a thousand cars; this bounds the bookings read for one answer. */
const MAX_BOOKINGS = 20_000;

/** GET /api/v1/vehicles: the fleet now, for its operator in full, for anyone as the cars free to book. */
export const vehicleRoutes: FastifyPluginAsyncZod = async (app) => {
  const { fleet, settings } = app.carsharing;

  app.get(
    '/api/v1/vehicles',
    {
      config: { rateLimit: {} },
      schema: {
        tags: ['carsharing'],
        summary: 'Fleet status',
        description:
          'With an operator token (`view: "operator"`): each of its cars (an admin: every car) with position, ' +
          'online (retained status and last will), lock, ignition, doors, fuel/battery, odometer and the ' +
          'booking running now. Without a token (`view: "public"`): only the cars free to book now, at the ' +
          'position of their station, GBFS-style; no live position, no booking, no lock, doors, ignition, ' +
          'fuel or odometer.',
        security: [{}, { bearerAuth: [] }],
        response: { 200: fleetSchema, ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      const operator = await app.optionalOperator(request);
      const now = new Date();
      const scope = operator && !operator.admin ? operator.id : undefined;
      const [devices, reservedSoon] = await Promise.all([
        app.store.devices.list({ kind: 'vehicle', operatorId: scope }),
        // Running now or starting within the grace period: the car is promised to someone.
        app.store.bookings.list({
          operatorId: scope,
          from: now,
          to: new Date(now.getTime() + settings.BOOKING_GRACE_S * 1000),
          limit: MAX_BOOKINGS,
        }),
      ]);
      const reserved = new Set(reservedSoon.map((b) => b.vehicleId));
      if (!operator) {
        reply.header('Cache-Control', 'public, max-age=5').header('Vary', 'Authorization');
        return {
          view: 'public' as const,
          vehicles: devices
            .filter((d) => isAvailable(d, fleet.get(d.id), reserved.has(d.id)))
            .map((d) => publicVehicle(d)),
        };
      }
      const current = new Map(
        reservedSoon.filter((b) => b.start <= now && now < b.end).map((b) => [b.vehicleId, b] as const),
      );
      reply.header('Cache-Control', 'private, no-store');
      return {
        view: 'operator' as const,
        vehicles: devices.map((d) =>
          operatorVehicle(d, fleet.get(d.id), current.get(d.id), reserved.has(d.id)),
        ),
      };
    },
  );
};
