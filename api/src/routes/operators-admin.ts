import { idSchema } from '@citytel/contract';
import type { Operator } from '@citytel/store';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiError, errorResponses } from '../errors.ts';

const operatorSchema = z.object({
  id: z.string(),
  name: z.string(),
  admin: z.boolean(),
  createdAt: z.iso.datetime(),
  revokedAt: z.iso.datetime().nullable(),
});
const operatorView = (o: Operator) => ({
  id: o.id,
  name: o.name,
  admin: o.admin,
  createdAt: o.createdAt.toISOString(),
  revokedAt: o.revokedAt ? o.revokedAt.toISOString() : null,
});
const auditSchema = z.object({
  id: z.number().int(),
  at: z.iso.datetime(),
  actor: z.string().describe('operator id, or `cli` for the provisioning CLI'),
  action: z.string().describe('device.create, device.delete, device.disable, device.rotate_secret, ...'),
  target: z.string(),
  detail: z.string().nullable(),
});
const idParams = z.object({ id: idSchema });
const auth = [{ bearerAuth: [] }];

/** Operator tokens rotated and revoked, and the audit trail of credentials (admins; an operator its own token). */
export const operatorsAdminRoutes: FastifyPluginAsyncZod = async (app) => {
  const selfOrAdmin = (caller: Operator, id: string) => {
    if (!caller.admin && caller.id !== id)
      throw apiError('forbidden', 'only an admin manages another operator');
  };

  app.post(
    '/api/v1/operators/:id/token',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['provisioning'],
        summary: "Rotate an operator's token",
        description: 'A new token, answered this once; the old one is refused from now on. Audited.',
        security: auth,
        params: idParams,
        response: {
          200: z.object({ operator: operatorSchema, token: z.string() }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      selfOrAdmin(request.operator!, request.params.id);
      const rotated = await app.store.operators.rotateToken(request.params.id);
      if (!rotated) throw apiError('not_found', `no operator ${request.params.id}`);
      await app.store.audit.add({
        actor: request.operator!.id,
        action: 'operator.rotate_token',
        target: request.params.id,
      });
      return reply
        .header('Cache-Control', 'no-store')
        .send({ operator: operatorView(rotated.operator), token: rotated.token });
    },
  );

  app.delete(
    '/api/v1/operators/:id/token',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['provisioning'],
        summary: "Revoke an operator's token",
        description: 'No token of this operator works until one is rotated in. Audited.',
        security: auth,
        params: idParams,
        response: { 200: operatorSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      selfOrAdmin(request.operator!, request.params.id);
      const revoked = await app.store.operators.revokeToken(request.params.id);
      if (!revoked) throw apiError('not_found', `no operator ${request.params.id}`);
      await app.store.audit.add({
        actor: request.operator!.id,
        action: 'operator.revoke_token',
        target: request.params.id,
      });
      return operatorView(revoked);
    },
  );

  app.get(
    '/api/v1/audit',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['provisioning'],
        summary: 'Who created, disabled, deleted or rotated which credential, newest first',
        security: auth,
        querystring: z.object({
          target: z.string().max(128).optional(),
          actor: z.string().max(128).optional(),
          before: z.coerce.number().int().min(1).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
        response: { 200: z.object({ entries: z.array(auditSchema) }), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const q = request.query;
      const entries = await app.store.audit.list({
        ...(q.target ? { target: q.target } : {}),
        ...(q.actor ? { actor: q.actor } : {}),
        ...(q.before ? { before: q.before } : {}),
        limit: q.limit,
      });
      return { entries: entries.map((e) => ({ ...e, at: e.at.toISOString() })) };
    },
  );
};
