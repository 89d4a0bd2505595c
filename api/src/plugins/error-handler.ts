import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isResponseSerializationError } from 'fastify-type-provider-zod';
import { codeForStatus, ERRORS, type ErrorCode, errorBody, isApiError } from '../errors.ts';
import { InfluxError } from '../influx/client.ts';
import { influxFailure } from '../influx/http.ts';

interface ValidationIssue {
  instancePath?: string;
  message?: string;
}

/** `/sensordatavalues/0/value` → `sensordatavalues[0].value`. */
function issuePath(instancePath: string | undefined): string {
  const parts = (instancePath ?? '').split('/').filter(Boolean);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/**
 * One line naming each bad parameter: `querystring.metric: Invalid option: expected one of ...`,
 * `body.lat: required for a fixed kit`. CONTRACT §4: a bad parameter is a 400 that names it.
 */
export function validationMessage(context: string | undefined, issues: ValidationIssue[]): string {
  const where = context ?? 'request';
  const lines = issues.slice(0, 5).map((i) => {
    const path = issuePath(i.instancePath);
    return `${path ? `${where}.${path}` : where}: ${i.message ?? 'invalid'}`;
  });
  if (issues.length > 5) lines.push(`and ${issues.length - 5} more`);
  return lines.join('; ');
}

export interface ErrorHandlerOptions {
  /** Asked before answering 404 (the dashboard's single-page fallback); true when it answered. */
  notFoundFallback?: (request: FastifyRequest, reply: FastifyReply) => Promise<boolean> | boolean;
}

/** Every error, ours or Fastify's or a plugin's, leaves as `{"error":{"code","message"}}` with a registry code. */
export const errorHandlerPlugin = fp<ErrorHandlerOptions>(
  async (app, opts) => {
    const send = (reply: FastifyReply, code: ErrorCode, message?: string) =>
      reply.code(ERRORS[code].status).type('application/json; charset=utf-8').send(errorBody(code, message));

    app.setErrorHandler((thrown: FastifyError, request, reply) => {
      // InfluxDB down, slow or without the database reached here unmapped: a 503 saying so, never a 500.
      const err = (thrown instanceof InfluxError ? influxFailure(thrown) : thrown) as FastifyError;
      if (err.validation) {
        return send(reply, 'invalid_parameter', validationMessage(err.validationContext, err.validation));
      }
      if (isApiError(err)) {
        if (err.statusCode >= 500) request.log.warn({ code: err.code, msg: err.message }, 'request failed');
        reply.headers(err.headers);
        return send(reply, err.code, err.message);
      }
      if (isResponseSerializationError(err)) {
        request.log.error({ err, issues: err.cause?.issues }, 'response does not match its schema');
        return send(reply, 'internal');
      }
      const status = err.statusCode;
      if (status === undefined || status >= 500) {
        request.log.error({ err }, 'unhandled error');
        return send(reply, codeForStatus(status));
      }
      // Fastify's and plugins' client errors (bad JSON, body too large, ...): their message is meant to be shown.
      return send(reply, codeForStatus(status), err.message);
    });

    app.setNotFoundHandler(async (request, reply) => {
      if (opts.notFoundFallback && (await opts.notFoundFallback(request, reply))) return reply;
      return send(reply, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`);
    });
  },
  { name: 'citytel-errors', fastify: '5.x' },
);
