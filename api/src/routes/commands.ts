import { commandIdSchema, idSchema } from '@citytel/contract';
import type { Command } from '@citytel/store';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireIdempotencyKey } from '../commands/idempotency.ts';
import { commandSchema, commandView, newCommandSchema } from '../commands/views.ts';
import { apiError, errorResponses } from '../errors.ts';
import { canManage } from '../plugins/auth.ts';

const auth = [{ bearerAuth: [] }];
const location = (c: Command) => `/api/v1/commands/${c.id}`;

/** Commands to cars (CONTRACT §3, §4): ask, follow, and the audit trail. */
export const commandRoutes: FastifyPluginAsyncZod = async (app) => {
  const { commands, tracker, settings } = app.carsharing;

  /**
   * A command that could not leave answers as the error it is, with a Location to its record (it stays in the
   * audit trail); otherwise 202 with the command (CONTRACT §4), whose `state` says whether it has ended.
   */
  const answer = (reply: FastifyReply, c: Command, replayed: boolean) => {
    reply.header('Location', location(c)).header('Cache-Control', 'no-store');
    if (replayed) reply.header('Idempotent-Replayed', 'true');
    if (c.state === 'failed' && c.reason === 'vehicle_offline')
      throw apiError(
        'vehicle_offline',
        `vehicle ${c.vehicleId} is offline; command ${c.id} failed without being sent (send queue: true to ` +
          'have it delivered if the car is back before it expires)',
        { Location: location(c) },
      );
    if (c.state === 'failed' && c.reason === 'mqtt_unavailable')
      throw apiError(
        'mqtt_unavailable',
        `the broker is unreachable; command ${c.id} failed without being sent`,
        {
          Location: location(c),
        },
      );
    return reply.code(202).send(commandView(c));
  };

  app.post(
    '/api/v1/vehicles/:id/commands',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: 'Unlock or lock a car',
        description:
          '`unlock` only inside an active booking of this car (from its start minus BOOKING_GRACE_S to its ' +
          'end), `lock` at any time. Every request carries an `Idempotency-Key`: the same key returns the ' +
          'same command (header `Idempotent-Replayed: true`), never a second one; with another body it is ' +
          'refused (422). The command is published at QoS 1 and followed until the car answers or it ' +
          'expires. Answers 202 with the command; `?wait=10` holds the answer up to 10 s for an end state ' +
          '(its `state` tells). An offline car fails at once (409 `vehicle_offline`) unless ' +
          '`queue` is true.',
        security: auth,
        params: z.object({ id: idSchema }),
        querystring: z.object({
          wait: z.coerce
            .number()
            .min(0)
            .max(settings.COMMAND_WAIT_MAX_S)
            .default(0)
            .describe(`seconds to wait for the end state (at most ${settings.COMMAND_WAIT_MAX_S})`),
        }),
        headers: z.object({
          'idempotency-key': z.string().optional().describe('required: 1 to 255 visible ASCII characters'),
        }),
        body: newCommandSchema,
        response: {
          202: {
            description: 'the command: ended (done, rejected, expired) or still under way (pending, sent)',
            content: { 'application/json': { schema: commandSchema } },
          },
          ...errorResponses(400, 401, 403, 404, 409, 422, 503),
        },
      },
    },
    async (request, reply) => {
      const idempotencyKey = requireIdempotencyKey(request.headers['idempotency-key']);
      const b = request.body;
      const { command, replayed } = await commands.request({
        operator: request.operator!,
        vehicleId: request.params.id,
        action: b.action,
        bookingId: b.bookingId,
        memberId: b.memberId,
        queue: b.queue,
        ttlS: b.ttlS,
        idempotencyKey,
      });
      const waited = await tracker.waitEnd(command, request.query.wait * 1000);
      return answer(reply, waited, replayed);
    },
  );

  app.get(
    '/api/v1/commands/:id',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: 'A command, its state and its history',
        description: "For the car's operator or an admin.",
        security: auth,
        params: z.object({ id: commandIdSchema }),
        response: { 200: commandSchema, ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const c = await app.store.commands.get(request.params.id);
      // Another operator's command is answered like a missing one.
      if (
        !c ||
        !(
          canManage(request.operator!, { operatorId: c.operatorId }) ||
          c.homeOperatorId === request.operator!.id
        )
      )
        throw apiError('command_not_found', `no command ${request.params.id}`);
      reply.header('Cache-Control', 'no-store');
      return commandView(c);
    },
  );

  app.get(
    '/api/v1/commands',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: 'The audit trail: commands of a car or a booking, newest first',
        description:
          "The commands to the calling operator's cars and those within its members' bookings on other operators' " +
          "cars (roaming; an admin's: everyone's), filtered by car and/or booking, each " +
          'with who asked, the booking and every state with its time. Paged: pass `nextCursor` back as `cursor`.',
        security: auth,
        querystring: z.object({
          vehicleId: idSchema.optional(),
          bookingId: idSchema.optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: commandIdSchema.optional().describe('nextCursor of the previous page'),
        }),
        response: {
          200: z.object({
            commands: z.array(commandSchema),
            nextCursor: z.string().nullable().describe('cursor of the next page; null on the last'),
          }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const op = request.operator!;
      // One more than asked tells whether a next page exists without a count query.
      const rows = await app.store.commands.list({
        vehicleId: q.vehicleId,
        bookingId: q.bookingId,
        visibleTo: op.admin ? undefined : op.id,
        before: q.cursor,
        limit: q.limit + 1,
      });
      const page = rows.slice(0, q.limit);
      reply.header('Cache-Control', 'no-store');
      return {
        commands: page.map(commandView),
        nextCursor: rows.length > q.limit ? page.at(-1)!.id : null,
      };
    },
  );
};
