import { idSchema } from '@citytel/contract';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { vehicleRefusal } from '../commands/rules.ts';
import { apiError, errorResponses } from '../errors.ts';

const offlineEventView = z
  .object({
    vehicleId: z.string(),
    seq: z.number().int().describe("the car's own sequence number"),
    at: z.iso.datetime().describe("the car's time when it happened"),
    event: z.enum(['opened', 'refused']),
    bookingId: z.string().nullable(),
    reason: z.string().nullable().describe('why it refused: unknown_credential, expired, not_yet, cancelled'),
    receivedAt: z.iso.datetime().describe('when the platform got it (the car was back online)'),
  })
  .meta({
    id: 'OfflineEvent',
    description: 'What a car did with no network (offline unlock), as it recorded it',
  });

/** Offline unlock (CONTRACT §3): the platform's public key for the cars, and what cars did offline. */
export const offlineRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/api/v1/carsharing/signing-key',
    {
      schema: {
        tags: ['carsharing'],
        summary: "The platform's Ed25519 public key, which on-board units use to check their booking lists",
        response: { 200: z.object({ alg: z.literal('Ed25519'), publicKeyPem: z.string() }) },
      },
    },
    async () => ({ alg: 'Ed25519' as const, publicKeyPem: await app.carsharing.passes.publicKeyPem() }),
  );

  app.get(
    '/api/v1/vehicles/:id/offline-log',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary:
          'The audit trail of a car offline: who it opened for and what it refused, with its own times',
        security: [{ bearerAuth: [] }],
        params: z.object({ id: idSchema }),
        querystring: z.object({
          bookingId: idSchema.optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
        response: {
          200: z.object({ events: z.array(offlineEventView) }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const device = await app.store.devices.get(request.params.id);
      const refusal = vehicleRefusal(request.params.id, device, request.operator!);
      if (refusal) throw apiError(refusal.code, refusal.message);
      const events = await app.store.offlineEvents.list({
        vehicleId: request.params.id,
        bookingId: request.query.bookingId,
        limit: request.query.limit,
      });
      reply.header('Cache-Control', 'no-store');
      return {
        events: events.map((e) => ({
          ...e,
          at: e.at.toISOString(),
          receivedAt: e.receivedAt.toISOString(),
        })),
      };
    },
  );
};
