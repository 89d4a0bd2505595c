import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { ERROR_CODES, ERRORS, errorCodesMarkdown } from '../errors.ts';

export const DOCS_PREFIX = '/docs';

/**
 * The OpenAPI 3 document, generated from the same zod schemas that validate and serialize (conventions: plugins), served
 * at /docs (UI) and /docs/json. Registered before the routes so that it sees each of them.
 */
export async function registerDocs(
  app: FastifyInstance,
  opts: { version: string; license: string },
): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'citytel api',
        version: opts.version,
        description: [
          'Open telemetry of a cooperative city: citizen air and noise kits, carsharing fleets.',
          `Read endpoints are public open data (${opts.license}); writes and commands need an operator token ` +
            '(`Authorization: Bearer ...`).',
          '',
          'Errors are `{"error":{"code","message"}}`; the codes:',
          '',
          errorCodesMarkdown(),
        ].join('\n'),
        license: { name: 'AGPL-3.0-or-later', url: 'https://www.gnu.org/licenses/agpl-3.0.html' },
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'operator token' },
          basicAuth: { type: 'http', scheme: 'basic', description: 'device id and secret' },
        },
      },
      tags: [
        { name: 'operations', description: 'health, readiness, metrics' },
        { name: 'provisioning', description: 'registering devices (operator token)' },
        { name: 'ingest', description: 'HTTP ingest for devices without MQTT' },
      ],
      // Machine-readable list of every error code with its status, beside the Error schema's enum.
      'x-error-codes': Object.fromEntries(ERROR_CODES.map((c) => [c, ERRORS[c]])),
    } as never,
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    // The UI's own policy (with the hashes of its inline parts) instead of the dashboard's; plain http on
    // one machine, so no upgrade of its requests.
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
  });
}
