import { credentialHashSchema, idSchema } from '@citytel/contract';
import { type Booking, BookingConflictError, type Operator } from '@citytel/store';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bookingStatus, vehicleRefusal } from '../commands/rules.ts';
import { returnRefusal } from '../commands/safety.ts';
import { bookingSchema, bookingView } from '../commands/views.ts';
import { apiError, errorResponses } from '../errors.ts';
import { canManage } from '../plugins/auth.ts';

const auth = [{ bearerAuth: [] }];
const instant = z.iso.datetime({ offset: true });
/** A booking longer than this is a mistake (a year typed for a day), not a rental. */
const MAX_BOOKING_DAYS = 90;

const newBookingSchema = z
  .object({
    vehicleId: idSchema,
    memberId: idSchema.describe('the member, as the operator identifies them'),
    start: instant,
    end: instant,
    credential: credentialHashSchema
      .optional()
      .describe(
        'offline unlock: hex SHA-256 of "card:" + the member\'s card id (or "phone:" + phone key); the car opens ' +
          'for it with no network inside the booking',
      ),
  })
  .superRefine((b, ctx) => {
    const start = Date.parse(b.start);
    const end = Date.parse(b.end);
    if (end <= start) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
    else if (end - start > MAX_BOOKING_DAYS * 86_400_000)
      ctx.addIssue({
        code: 'custom',
        path: ['end'],
        message: `at most ${MAX_BOOKING_DAYS} days after start`,
      });
    if (end <= Date.now()) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be in the future' });
  });

/** Bookings of cars (CONTRACT §4): each belongs to the car's operator and one of its members. */
export const bookingRoutes: FastifyPluginAsyncZod = async (app) => {
  /** The booking, if this operator may see it; another operator's is answered like a missing one. */
  const visibleBooking = async (id: string, operator: Operator): Promise<Booking> => {
    const b = await app.store.bookings.get(id);
    // The car's operator, and the member's home operator when it is another (roaming).
    if (!b || !(canManage(operator, { operatorId: b.operatorId }) || b.homeOperatorId === operator.id))
      throw apiError('booking_not_found', `no booking ${id}`);
    return b;
  };

  /** Whether the car's operator accepts members of `home` (its roaming policy). */
  const accepts = async (carOperator: string | null, home: string): Promise<boolean> => {
    if (!carOperator) return false;
    const policy = await app.store.roaming.accepts(carOperator);
    return policy === '*' || policy.includes(home);
  };

  /** The car's signed booking list, sent again after any change to its bookings (offline unlock). */
  const resend = (vehicleId: string, log: { warn: (o: object, m: string) => void }) =>
    app.carsharing.passes
      .publishFor(vehicleId)
      .catch((err) =>
        log.warn({ err, vehicle: vehicleId }, 'could not send the booking list; the refresh will'),
      );

  app.post(
    '/api/v1/bookings',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: 'Book a car for a member',
        description:
          "Books one of the operator's cars over [start, end), or, for one of its members, another operator's car " +
          'whose roaming policy accepts its members (roaming; otherwise 403 `not_your_vehicle`): the booking is ' +
          "the car's operator's, with `homeOperatorId` the member's. A booking that overlaps another live booking of " +
          'the same car is refused with 409 `booking_conflict`, also when requests race.',
        security: auth,
        body: newBookingSchema,
        response: { 201: bookingSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const operator = request.operator!;
      const device = await app.store.devices.get(b.vehicleId);
      const refusal = vehicleRefusal(b.vehicleId, device, operator);
      // Roaming: another operator's car, for one of this operator's members, if the car's operator accepts them.
      const roaming =
        refusal?.code === 'not_your_vehicle' && (await accepts(device!.operatorId, operator.id));
      if (refusal && !roaming) throw apiError(refusal.code, refusal.message);
      try {
        const booking = await app.store.bookings.create({
          // An admin books on the car's operator's behalf: the booking is that operator's.
          operatorId: device!.operatorId ?? operator.id,
          homeOperatorId: roaming ? operator.id : undefined,
          credentialHash: b.credential ?? null,
          vehicleId: b.vehicleId,
          memberId: b.memberId,
          start: new Date(b.start),
          end: new Date(b.end),
        });
        request.log.info(
          {
            booking: booking.id,
            vehicle: booking.vehicleId,
            member: booking.memberId,
            operator: operator.id,
          },
          'booking created',
        );
        await resend(booking.vehicleId, request.log);
        return reply
          .code(201)
          .header('Location', `/api/v1/bookings/${booking.id}`)
          .header('Cache-Control', 'no-store')
          .send(bookingView(booking));
      } catch (err) {
        if (err instanceof BookingConflictError) {
          throw apiError(
            'booking_conflict',
            err.conflictingId
              ? `vehicle ${b.vehicleId} is already booked by ${err.conflictingId} over part of this time`
              : `vehicle ${b.vehicleId} is already booked over part of this time`,
          );
        }
        throw err;
      }
    },
  );

  app.get(
    '/api/v1/bookings/:id',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: 'A booking',
        security: auth,
        params: z.object({ id: idSchema }),
        response: { 200: bookingSchema, ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-store');
      return bookingView(await visibleBooking(request.params.id, request.operator!));
    },
  );

  app.delete(
    '/api/v1/bookings/:id',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: 'Cancel a booking',
        description:
          'Frees the car at once; the booking stays on record as `cancelled` (its commands point at it) and ' +
          'its commands still open end `cancelled` (reason `booking_cancelled`, in the audit trail). ' +
          'Cancelling again changes nothing and answers the same.',
        security: auth,
        params: z.object({ id: idSchema }),
        response: { 200: bookingSchema, ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const b = await visibleBooking(request.params.id, request.operator!);
      const cancelled = (await app.store.bookings.cancel(b.id)) ?? b;
      if (!b.cancelledAt)
        request.log.info({ booking: b.id, operator: request.operator!.id }, 'booking cancelled');
      // Its open commands end `cancelled` now, not at the next sweep (a failure here leaves them to it).
      await app.carsharing.tracker
        .cancelEnded()
        .catch((err) =>
          request.log.warn(
            { err, booking: b.id },
            'could not cancel the commands of a cancelled booking yet',
          ),
        );
      await resend(b.vehicleId, request.log);
      reply.header('Cache-Control', 'no-store');
      return bookingView(cancelled);
    },
  );

  app.post(
    '/api/v1/bookings/:id/return',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: 'Return the car: end a running booking now',
        description:
          "Ends the booking at once (its `end` becomes now, `returnedAt` says so), only on the car's own recent " +
          'report (telemetry no older than RETURN_STATUS_MAX_AGE_S) showing it locked, its doors closed and ' +
          'the ignition off; otherwise 409 `vehicle_not_secured` (what is open) or `vehicle_status_stale`, ' +
          'and the booking goes on. Its open commands end `cancelled`. A booking not running now is 409 ' +
          '`booking_not_active`.',
        security: auth,
        params: z.object({ id: idSchema }),
        response: { 200: bookingSchema, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) => {
      const b = await visibleBooking(request.params.id, request.operator!);
      const now = new Date();
      const status = bookingStatus(b, now);
      if (status !== 'active')
        throw apiError(
          'booking_not_active',
          `booking ${b.id} is ${status}; only a running booking is returned`,
        );
      const { fleet, settings, tracker } = app.carsharing;
      const refusal = returnRefusal(b.vehicleId, fleet.get(b.vehicleId), now, settings);
      if (refusal) {
        request.log.info(
          { booking: b.id, vehicle: b.vehicleId, operator: request.operator!.id, code: refusal.code },
          'return refused',
        );
        throw apiError(refusal.code, refusal.message);
      }
      const returned = await app.store.bookings.returnEarly(b.id, now);
      if (!returned) throw apiError('booking_not_active', `booking ${b.id} ended or was cancelled meanwhile`);
      const km = fleet.get(b.vehicleId)?.numbers.odometer_km;
      if (km !== undefined && returned.odometerStartKm !== null) {
        await app.store.bookings.setOdometerEnd(b.id, km);
        returned.odometerEndKm = km;
      }
      request.log.info(
        {
          booking: b.id,
          vehicle: b.vehicleId,
          operator: request.operator!.id,
          bookedEnd: b.end.toISOString(),
        },
        'booking returned early',
      );
      await tracker
        .cancelEnded(now)
        .catch((err) =>
          request.log.warn({ err, booking: b.id }, 'could not cancel the commands of a returned booking yet'),
        );
      await resend(b.vehicleId, request.log);
      reply.header('Cache-Control', 'no-store');
      return bookingView(returned, now);
    },
  );

  app.get(
    '/api/v1/bookings',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: "The operator's bookings, latest start first",
        description:
          'Filtered by car, member, and the time range they overlap; cancelled ones only with ' +
          '`includeCancelled=true`. Paged with `limit` and `offset`.',
        security: auth,
        querystring: z.object({
          vehicleId: idSchema.optional(),
          memberId: idSchema.optional(),
          from: instant.optional().describe('only bookings ending after this'),
          to: instant.optional().describe('only bookings starting before this'),
          includeCancelled: z
            .enum(['true', 'false'])
            .default('false')
            .transform((v) => v === 'true'),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
        }),
        response: {
          200: z.object({ bookings: z.array(bookingSchema), limit: z.number(), offset: z.number() }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const op = request.operator!;
      const rows = await app.store.bookings.list({
        visibleTo: op.admin ? undefined : op.id,
        vehicleId: q.vehicleId,
        memberId: q.memberId,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        includeCancelled: q.includeCancelled,
        limit: q.limit,
        offset: q.offset,
      });
      const now = new Date();
      reply.header('Cache-Control', 'no-store');
      return { bookings: rows.map((b) => bookingView(b, now)), limit: q.limit, offset: q.offset };
    },
  );
};
