import { idSchema } from '@citytel/contract';
import type { Operator } from '@citytel/store';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { vehicleRefusal } from '../commands/rules.ts';
import { apiError, errorResponses } from '../errors.ts';

const auth = [{ bearerAuth: [] }];
const text = z.string().trim().min(1).max(200);

const stationBody = z.object({
  name: text,
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  address: text.optional(),
  parkingType: z
    .enum(['parking_lot', 'street_parking', 'underground_parking', 'sidewalk_parking', 'other'])
    .optional()
    .describe('GBFS parking_type; underground_parking tells riders (and us) the car may have no network'),
  capacity: z.number().int().min(0).max(1000).optional().describe("places for the operator's cars"),
  charging: z.boolean().default(false),
});
const stationSchema = stationBody.extend({
  id: z.string(),
  operatorId: z.string(),
  updatedAt: z.iso.datetime(),
});

const typeBody = z.object({
  propulsion: z.enum([
    'combustion',
    'combustion_diesel',
    'electric',
    'hybrid',
    'plug_in_hybrid',
    'hydrogen_fuel_cell',
  ]),
  make: text,
  model: text,
  maxRangeKm: z.number().positive().max(5000).describe('range on a full tank or charge'),
  gCo2Km: z.number().int().min(0).max(1000).optional().describe('WLTP CO2 g/km'),
  riderCapacity: z.number().int().min(1).max(20).optional(),
});

const tiered = z
  .array(
    z.object({
      start: z.number().min(0),
      rate: z.number(),
      interval: z.number().int().min(1),
      end: z.number().min(0).optional(),
    }),
  )
  .min(1);
const planBody = z.object({
  plan_id: idSchema,
  name: text,
  currency: z.string().regex(/^[A-Z]{3}$/),
  price: z.number().min(0),
  is_taxable: z.boolean(),
  description: z.string().trim().min(1).max(1000),
  per_km_pricing: tiered.optional(),
  per_min_pricing: tiered.optional(),
});
const systemBody = z.object({
  name: text.optional(),
  url: z.url({ protocol: /^https?$/ }).optional(),
  purchaseUrl: z.url({ protocol: /^https?$/ }).optional(),
  email: z.email().optional(),
  phoneNumber: z
    .string()
    .regex(/^\+[1-9]\d{1,14}$/, 'E.164')
    .optional(),
  pricingPlans: z
    .array(planBody)
    .max(50)
    .optional()
    .describe('GBFS system_pricing_plans, in GBFS field names'),
});

/**
 * What an operator tells the public about its fleet (GBFS): its stations, its vehicle types, each car's
 * type and home station, its system's name and pricing. Each operator writes only its own.
 */
export const gbfsRegistryRoutes: FastifyPluginAsyncZod = async (app) => {
  const owner = (op: Operator, operatorId: string) => op.admin || op.id === operatorId;

  app.put(
    '/api/v1/stations/:id',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: 'Create or update a station of the operator',
        security: auth,
        params: z.object({ id: idSchema }),
        body: stationBody,
        response: { 200: stationSchema, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const op = request.operator!;
      const existing = await app.store.fleet.getStation(request.params.id);
      if (existing && !owner(op, existing.operatorId))
        throw apiError('forbidden', `station ${request.params.id} belongs to another operator`);
      const b = request.body;
      const st = await app.store.fleet.putStation({
        id: request.params.id,
        operatorId: existing?.operatorId ?? op.id,
        name: b.name,
        lat: b.lat,
        lon: b.lon,
        address: b.address ?? null,
        parkingType: b.parkingType ?? null,
        capacity: b.capacity ?? null,
        charging: b.charging,
      });
      reply.header('Cache-Control', 'no-store');
      return {
        id: st.id,
        operatorId: st.operatorId,
        name: st.name,
        lat: st.lat,
        lon: st.lon,
        address: st.address ?? undefined,
        parkingType: (st.parkingType ?? undefined) as z.infer<typeof stationBody>['parkingType'],
        capacity: st.capacity ?? undefined,
        charging: st.charging,
        updatedAt: st.updatedAt.toISOString(),
      };
    },
  );

  app.put(
    '/api/v1/vehicle-types/:id',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: 'Create or update a vehicle type of the operator (GBFS vehicle_types, form factor car)',
        security: auth,
        params: z.object({ id: idSchema }),
        body: typeBody,
        response: { 204: z.null().describe('stored'), ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      await app.store.fleet.putVehicleType({
        operatorId: request.operator!.id,
        id: request.params.id,
        propulsion: b.propulsion,
        make: b.make,
        model: b.model,
        maxRangeM: Math.round(b.maxRangeKm * 1000),
        gCo2Km: b.gCo2Km ?? null,
        riderCapacity: b.riderCapacity ?? null,
      });
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/api/v1/vehicles/:id/placement',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: "Set a car's vehicle type and home station",
        description: 'Only a car with both appears in GBFS (when it is free to book).',
        security: auth,
        params: z.object({ id: idSchema }),
        body: z.object({ vehicleTypeId: idSchema, stationId: idSchema.nullable() }),
        response: { 204: z.null().describe('stored'), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const op = request.operator!;
      const device = await app.store.devices.get(request.params.id);
      const refusal = vehicleRefusal(request.params.id, device, op);
      if (refusal) throw apiError(refusal.code, refusal.message);
      const carOperator = device!.operatorId ?? op.id;
      const { vehicleTypeId, stationId } = request.body;
      const types = await app.store.fleet.listVehicleTypes({ operatorId: carOperator });
      if (!types.some((t) => t.id === vehicleTypeId))
        throw apiError(
          'invalid_parameter',
          `vehicleTypeId: no vehicle type ${vehicleTypeId} of ${carOperator}`,
        );
      if (stationId !== null) {
        const st = await app.store.fleet.getStation(stationId);
        if (!st || st.operatorId !== carOperator)
          throw apiError('invalid_parameter', `stationId: no station ${stationId} of ${carOperator}`);
      }
      await app.store.fleet.placeVehicle({ vehicleId: request.params.id, vehicleTypeId, stationId });
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/api/v1/gbfs/system',
    {
      onRequest: app.requireOperator,
      schema: {
        tags: ['carsharing'],
        summary: "The operator's GBFS system: public name, links, pricing plans",
        description:
          "Replaces what was set. With `pricingPlans`, the operator's system (and the network's, once every " +
          'operator has plans) publishes system_pricing_plans, and each vehicle type names its first plan as default.',
        security: auth,
        body: systemBody,
        response: { 204: z.null().describe('stored'), ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      const { pricingPlans, ...info } = request.body;
      const ids = new Set((pricingPlans ?? []).map((p) => p.plan_id));
      if (pricingPlans && ids.size !== pricingPlans.length)
        throw apiError('invalid_parameter', 'pricingPlans: plan_id must be unique');
      await app.store.fleet.putSystem({
        operatorId: request.operator!.id,
        info,
        pricingPlans: pricingPlans?.length ? pricingPlans : null,
      });
      return reply.code(204).send(null);
    },
  );
};
