import type { Device, Operator } from '@citytel/store';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { apiError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator whose bearer token the request carried, once `requireOperator` ran. */
    operator: Operator | null;
  }
  interface FastifyInstance {
    /** onRequest hook: `Authorization: Bearer <token>` of an operator, else 401 `unauthorized`. */
    requireOperator: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** onRequest hook: an admin operator, else 401 / 403. */
    requireAdmin: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /**
     * For public routes that show an operator more of its own devices: the operator of the bearer token
     * sent, undefined without one; a wrong token is a 401, never answered with the public view.
     */
    optionalOperator: (request: FastifyRequest) => Promise<Operator | undefined>;
  }
}

const BEARER = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]{1,512})[ \t]*$/i;

export const bearerToken = (header: string | undefined): string | undefined => header?.match(BEARER)?.[1];

const challenge = { 'WWW-Authenticate': 'Bearer realm="citytel"' };

/** Whether an operator may manage a device: its owner, or an admin. */
export const canManage = (operator: Operator, device: Pick<Device, 'operatorId'>): boolean =>
  operator.admin || device.operatorId === operator.id;

/**
 * Operator authentication. Routes opt in with `onRequest: app.requireOperator` (before the body is read or validated, so a caller
 * without a token hears 401 whatever it sent); read routes stay public
 * (open data, CONTRACT §4).
 */
export const authPlugin = fp(
  async (app) => {
    app.decorateRequest('operator', null);

    const requireOperator = async (request: FastifyRequest) => {
      const token = bearerToken(request.headers.authorization);
      if (!token)
        throw apiError(
          'unauthorized',
          'an operator token is required (Authorization: Bearer ...)',
          challenge,
        );
      const operator = await app.store.operators.verifyToken(token);
      if (!operator) throw apiError('unauthorized', 'unknown or revoked operator token', challenge);
      request.operator = operator;
    };
    app.decorate('requireOperator', requireOperator);
    app.decorate('optionalOperator', async (request: FastifyRequest) => {
      if (request.headers.authorization === undefined) return undefined;
      await requireOperator(request);
      return request.operator ?? undefined;
    });
    app.decorate('requireAdmin', async (request: FastifyRequest) => {
      await requireOperator(request);
      if (!request.operator?.admin) throw apiError('forbidden', 'an admin operator token is required');
    });
  },
  { name: 'citytel-auth', fastify: '5.x', dependencies: ['citytel-context'] },
);
