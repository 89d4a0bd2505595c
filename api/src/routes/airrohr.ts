import { AIRROHR_SENSOR_HEADER, airrohrBodySchema, MAX_PAYLOAD_BYTES, topics } from '@citytel/contract';
import type { Device } from '@citytel/store';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CredentialCache, FailedLoginThrottle, parseBasicAuth } from '../basic-auth.ts';
import { apiError, errorResponses } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body as received, for routes that forward it unchanged. */
    rawBody?: string;
  }
}

const challenge = { 'WWW-Authenticate': 'Basic realm="citytel", charset="UTF-8"' };
/** Kinds that may post airrohr bodies: airrohr boxes, and native kits that reuse the firmware's format. */
const AIRROHR_KINDS: ReadonlySet<string> = new Set(['airrohr', 'native']);

/**
 * POST /api/v1/ingest/airrohr (CONTRACT §2.3): the stock sensor.community firmware's "send to own API"
 * body, with Basic auth = device id and secret. The body is forwarded unchanged to
 * `sensors/{id}/airrohr` at QoS 1 and answered 200 only once the broker has it, so a box whose post
 * failed posts again; decoding, range checks and storage happen in ingest, as for MQTT gateways.
 */
export const airrohrRoutes: FastifyPluginAsyncZod = async (app) => {
  // With the tag of the credential it was verified against (store's loginTag): a revoked or rotated
  // secret is refused at once, cache or not.
  const cache = new CredentialCache<Pick<Device, 'id' | 'kind'> & { tag: string | undefined }>();
  const throttle = new FailedLoginThrottle({ freeFailures: app.config.AIRROHR_FREE_FAILURES });
  app.decorateRequest('rawBody', undefined);
  app.decorateRequest('airrohrDevice', undefined);

  // The firmware sends `Content-Type: application/json`, forks and hand-made clients send text/plain or
  // nothing; all are read as text, kept raw for forwarding, and parsed as JSON here (this plugin only).
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    ['application/json', 'text/plain', '*'],
    { parseAs: 'string', bodyLimit: MAX_PAYLOAD_BYTES },
    (request: FastifyRequest, body: string | Buffer, done) => {
      const text = body.toString();
      request.rawBody = text;
      try {
        done(null, JSON.parse(text));
      } catch (err) {
        done(
          apiError('invalid_parameter', `body: not JSON (${(err as Error).message.slice(0, 120)})`),
          undefined,
        );
      }
    },
  );

  const authenticate = async (request: FastifyRequest) => {
    const cred = parseBasicAuth(request.headers.authorization);
    if (!cred)
      throw apiError('unauthorized', 'Basic auth with the device id and secret is required', challenge);
    const key = CredentialCache.key(cred.user, cred.password);
    let device = cache.get(key);
    if (device && (await app.store.devices.loginTag(device.id)) !== device.tag) device = undefined;
    if (!device) {
      // Decided before the scrypt: a guesser is refused at the price of a map lookup.
      const turn = throttle.begin(request.ip);
      if (!turn.ok) {
        const s = Math.ceil(turn.retryAfterMs / 1000);
        throw apiError('rate_limited', `too many failed logins from this address; retry in ${s} s`, {
          'Retry-After': String(s),
        });
      }
      let found: Device | undefined;
      try {
        found = await app.store.devices.verifySecret(cred.user, cred.password);
      } finally {
        turn.done(found !== undefined);
      }
      if (!found) throw apiError('unauthorized', 'unknown device or wrong secret', challenge);
      device = { id: found.id, kind: found.kind, tag: await app.store.devices.loginTag(found.id) };
      cache.set(key, device);
    }
    if (!AIRROHR_KINDS.has(device.kind)) {
      throw apiError(
        'forbidden',
        `device ${device.id} is a ${device.kind} device; only airrohr and native kits post here`,
      );
    }
    return device;
  };

  app.post(
    '/api/v1/ingest/airrohr',
    {
      // Before the body is read: a box with wrong credentials hears 401 whatever it sent.
      onRequest: async (request) => {
        request.airrohrDevice = await authenticate(request);
      },
      schema: {
        tags: ['ingest'],
        summary: 'sensor.community (airrohr) "send to own API" endpoint',
        description:
          'Set the firmware\'s "Send to own API" to this server, path `/api/v1/ingest/airrohr`, user = device ' +
          'id, password = device secret. Values are strings; the receive time is used. Answers 200 once the ' +
          'message broker holds the reading. After a few failed logins an address waits (429 with ' +
          'Retry-After, doubling up to 5 min) before its next credentials are checked.',
        security: [{ basicAuth: [] }],
        headers: z.looseObject({
          'x-sensor': z
            .string()
            .regex(AIRROHR_SENSOR_HEADER, 'must be esp8266-{chipid} or esp32-{chipid}')
            .optional()
            .describe('esp8266-{chipid} or esp32-{chipid}, as the firmware sends it'),
        }),
        body: airrohrBodySchema,
        response: {
          200: z.object({ status: z.literal('accepted'), device: z.string() }),
          ...errorResponses(400, 401, 403, 413, 415, 429, 503),
        },
      },
    },
    async (request) => {
      const device = request.airrohrDevice!;
      const mqtt = app.mqtt;
      if (!mqtt) throw apiError('mqtt_unavailable', 'the api has no broker connection');
      await mqtt.publish(topics.sensorAirrohr(device.id), request.rawBody ?? JSON.stringify(request.body), {
        qos: 1,
      });
      return { status: 'accepted' as const, device: device.id };
    },
  );
};

declare module 'fastify' {
  interface FastifyRequest {
    airrohrDevice?: Pick<Device, 'id' | 'kind'>;
  }
}
