import { idSchema } from '@citytel/contract';
import { type Operator, StoreConflictError } from '@citytel/store';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  deviceSchema,
  deviceView,
  newDeviceSchema,
  provisionedDeviceSchema,
  provisionedView,
} from '../device-view.ts';
import { ApiError, apiError, errorResponses } from '../errors.ts';
import { canManage } from '../plugins/auth.ts';

const idParams = z.object({ id: idSchema });

const rejectionSchema = z.object({
  at: z.iso.datetime(),
  topic: z.string(),
  reason: z.string().describe('stable code: not_json, schema, out_of_range, bad_position, ...'),
  detail: z.string(),
  sample: z.string().nullable().describe('start of the refused payload (at most 512 characters)'),
});

const auth = [{ bearerAuth: [] }];

/** Provisioning (CONTRACT §5) and the operator's view of its devices. */
export const devicesAdminRoutes: FastifyPluginAsyncZod = async (app) => {
  /** The device, if the caller may manage it: 404 for an unknown id, 403 for another operator's. */
  const managedDevice = async (id: string, operator: Operator | null) => {
    const device = await app.store.devices.get(id);
    if (!device) throw apiError('device_not_found', `no device ${id}`);
    if (!operator || !canManage(operator, device))
      throw apiError('forbidden', `device ${id} belongs to another operator`);
    return device;
  };

  app.post(
    '/api/v1/devices',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['provisioning'],
        summary: 'Register a device',
        description:
          'Registers a kit or a vehicle under the calling operator. The answer carries its `secret` ' +
          '(for `sck`: its `token`) this once; only a slow hash is kept.',
        security: auth,
        body: newDeviceSchema,
        response: { 201: provisionedDeviceSchema, ...errorResponses(400, 401, 409) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      try {
        const created = await app.store.devices.create({
          id: b.id,
          kind: b.kind,
          operatorId: request.operator!.id,
          name: b.name ?? null,
          lat: b.lat ?? null,
          lon: b.lon ?? null,
          mobile: b.mobile ?? false,
          indoor: b.indoor ?? false,
          publicTrack: b.publicTrack ?? false,
        });
        request.log.info({ device: b.id, kind: b.kind, operator: request.operator!.id }, 'device registered');
        await app.store.audit.add({ actor: request.operator!.id, action: 'device.create', target: b.id });
        return reply.code(201).header('Cache-Control', 'no-store').send(provisionedView(created));
      } catch (err) {
        if (err instanceof StoreConflictError)
          throw new ApiError('device_exists', `device ${b.id} already exists`);
        throw err;
      }
    },
  );

  app.get(
    '/api/v1/devices/:id',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['provisioning'],
        summary: "A device's registry record",
        description: 'For its operator or an admin. The secret is never shown again.',
        security: auth,
        params: idParams,
        response: { 200: deviceSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => deviceView(await managedDevice(request.params.id, request.operator)),
  );

  app.get(
    '/api/v1/devices/:id/rejections',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['provisioning'],
        summary: 'Messages of a device that were refused, newest first',
        description: "For the device's operator or an admin: why its last messages (or fields) were refused.",
        security: auth,
        params: idParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) }),
        response: {
          200: z.object({ device: z.string(), rejections: z.array(rejectionSchema) }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const device = await managedDevice(request.params.id, request.operator);
      const rows = await app.store.rejections.list(device.id, request.query.limit);
      return {
        device: device.id,
        rejections: rows.map((r) => ({
          at: r.at.toISOString(),
          topic: r.topic,
          reason: r.reason,
          detail: r.detail,
          sample: r.sample,
        })),
      };
    },
  );

  app.delete(
    '/api/v1/devices/:id',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['provisioning'],
        summary: 'Delete a device',
        description:
          'For its operator or an admin. Its logins are refused at once and every broker drops its live ' +
          'MQTT connection within seconds; audited.',
        security: auth,
        params: idParams,
        response: { 204: z.null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const device = await managedDevice(request.params.id, request.operator);
      await app.store.devices.remove(device.id);
      await app.store.audit.add({ actor: request.operator!.id, action: 'device.delete', target: device.id });
      request.log.info({ device: device.id, operator: request.operator!.id }, 'device deleted');
      return reply.code(204).send(null);
    },
  );

  app.patch(
    '/api/v1/devices/:id',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['provisioning'],
        summary: 'Disable or enable a device',
        description:
          '`{"disabled":true}`: every login refused and the live connection dropped within seconds, the ' +
          'record and its history kept; `false` lets it log in again. Audited.',
        security: auth,
        params: idParams,
        body: z.object({ disabled: z.boolean() }).strict(),
        response: { 200: deviceSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const device = await managedDevice(request.params.id, request.operator);
      const changed = await app.store.devices.setDisabled(device.id, request.body.disabled);
      if (!changed) throw apiError('device_not_found', `no device ${device.id}`);
      await app.store.audit.add({
        actor: request.operator!.id,
        action: request.body.disabled ? 'device.disable' : 'device.enable',
        target: device.id,
      });
      return deviceView(changed);
    },
  );

  app.post(
    '/api/v1/devices/:id/secret',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['provisioning'],
        summary: "Rotate a device's secret (an SCK kit's token)",
        description:
          'A new secret (for `sck`: a new token) is answered this once; the old one is refused from now ' +
          'on and the device dropped from every broker within seconds. Audited.',
        security: auth,
        params: idParams,
        response: { 200: provisionedDeviceSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const device = await managedDevice(request.params.id, request.operator);
      const rotated = await app.store.devices.rotateCredentials(device.id);
      if (!rotated) throw apiError('device_not_found', `no device ${device.id}`);
      await app.store.audit.add({
        actor: request.operator!.id,
        action: 'device.rotate_secret',
        target: device.id,
      });
      return reply.header('Cache-Control', 'no-store').send(provisionedView(rotated));
    },
  );
};
