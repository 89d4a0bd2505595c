import { idSchema } from '@citytel/contract';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiError, errorResponses } from '../errors.ts';
import {
  FEEDS,
  type FeedName,
  GBFS_VERSION,
  type GbfsSnapshot,
  type GbfsSystemScope,
  hasPricing,
  REALTIME_FEEDS,
  rfc3339,
  staticUpdatedAt,
  stationInformation,
  stationStatus,
  systemInformation,
  systemPricingPlans,
  vehicleStatus,
  vehicleTypes,
} from './gbfs-feeds.ts';

const gbfsFileSchema = z
  .object({
    last_updated: z.string().describe('RFC 3339: what the data describes is as of then'),
    ttl: z
      .number()
      .int()
      .min(0)
      .describe('seconds before it changes again; Cache-Control max-age says the same'),
    version: z.literal(GBFS_VERSION),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'GbfsFile', description: 'A GBFS 3.0 file (MobilityData gbfs.md v3.0, Output Format)' });

/** A network has about a thousand cars; this bounds the bookings read for one answer. */
const MAX_BOOKINGS = 20_000;

/**
 * GBFS 3.0 (CONTRACT §4): the network as one system at `/gbfs/gbfs.json`, each operator as its own at
 * `/gbfs/operators/{operator}/gbfs.json`, all of them in `/gbfs/manifest.json`. Public, read-only, built
 * from the store and the live fleet on each request; `ttl` and `Cache-Control: max-age` say the same, so
 * caches in front (HAProxy, a CDN) carry the load of route planners polling.
 */
export const gbfsRoutes: FastifyPluginAsyncZod = async (app) => {
  const c = app.config;
  const { fleet, settings } = app.carsharing;

  const base = (request: FastifyRequest) =>
    (c.GBFS_PUBLIC_URL ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '');
  const systemPath = (operatorId: string | undefined) =>
    operatorId === undefined ? '/gbfs' : `/gbfs/operators/${encodeURIComponent(operatorId)}`;
  const systemIdOf = (operatorId: string | undefined) =>
    operatorId === undefined ? c.GBFS_NETWORK_ID : `${c.GBFS_NETWORK_ID}_${operatorId}`;

  /** Every operator with a car or a GBFS system: each one is a system of its own. */
  async function operatorIds(): Promise<string[]> {
    const [devices, systems] = await Promise.all([
      app.store.devices.list({ kind: 'vehicle' }),
      app.store.fleet.listSystems(),
    ]);
    const ids = new Set<string>();
    for (const d of devices) if (d.operatorId) ids.add(d.operatorId);
    for (const s of systems) ids.add(s.operatorId);
    return [...ids].sort();
  }

  async function snapshot(operatorId: string | undefined): Promise<GbfsSnapshot> {
    const now = new Date();
    const scope: GbfsSystemScope = { systemId: systemIdOf(operatorId), operatorId };
    const [devices, placements, types, stations, systems, soon, nextStarts, lastStarts, idKey] =
      await Promise.all([
        app.store.devices.list({ kind: 'vehicle', operatorId }),
        app.store.fleet.listPlacements(),
        app.store.fleet.listVehicleTypes({ operatorId }),
        app.store.fleet.listStations({ operatorId }),
        app.store.fleet.listSystems(),
        app.store.bookings.list({
          operatorId,
          from: now,
          to: new Date(now.getTime() + settings.BOOKING_GRACE_S * 1000),
          limit: MAX_BOOKINGS,
        }),
        app.store.bookings.nextStarts(now, new Date(now.getTime() + c.GBFS_AVAILABLE_HORIZON_H * 3600_000)),
        app.store.bookings.latestStarts(now),
        app.store.fleet.idKey(),
      ]);
    const opIds = new Set(devices.map((d) => d.operatorId).filter((x): x is string => x !== null));
    if (operatorId) opIds.add(operatorId);
    const names = new Map<string, string>();
    for (const id of opIds) {
      const op = await app.store.operators.get(id);
      if (op) names.set(id, op.name);
    }
    return {
      now,
      scope,
      settings: { ...c, MOVING_SPEED_KMH: settings.MOVING_SPEED_KMH },
      operatorNames: names,
      devices,
      placements: new Map(placements.map((p) => [p.vehicleId, p] as const)),
      types,
      stations,
      systems: new Map(systems.map((s) => [s.operatorId, s] as const)),
      reserved: new Set(soon.map((b) => b.vehicleId)),
      nextStarts,
      lastStarts,
      idKey,
      live: (id) => fleet.get(id),
    };
  }

  const send = (reply: FastifyReply, lastUpdated: Date, ttl: number, data: unknown) => {
    reply.header('Cache-Control', `public, max-age=${ttl}`);
    reply.type('application/json; charset=utf-8');
    return {
      last_updated: rfc3339(lastUpdated),
      ttl,
      version: GBFS_VERSION as typeof GBFS_VERSION,
      data: data as Record<string, unknown>,
    };
  };

  const ttlOf = (feed: FeedName | 'gbfs' | 'manifest') =>
    feed !== 'gbfs' && feed !== 'manifest' && REALTIME_FEEDS.has(feed)
      ? c.GBFS_REALTIME_TTL_S
      : c.GBFS_STATIC_TTL_S;

  async function knownOperator(operatorId: string | undefined): Promise<void> {
    if (operatorId !== undefined && !(await operatorIds()).includes(operatorId))
      throw apiError('not_found', `no GBFS system for operator ${operatorId}`);
  }

  const common = {
    config: { rateLimit: {} },
    schema: { tags: ['gbfs'], response: { 200: gbfsFileSchema, ...errorResponses(400, 404, 429) } },
  };
  const operatorParams = z.object({ operator: idSchema });

  /** gbfs.json of one system: its feeds, each at an absolute URL that answers. */
  async function discovery(request: FastifyRequest, reply: FastifyReply, operatorId: string | undefined) {
    await knownOperator(operatorId);
    const s = await snapshot(operatorId);
    const at = base(request) + systemPath(operatorId);
    const feeds = FEEDS.filter((f) => f !== 'system_pricing_plans' || hasPricing(s)).map((name) => ({
      name,
      url: `${at}/${name}.json`,
    }));
    return send(reply, s.now, c.GBFS_STATIC_TTL_S, { feeds });
  }

  async function feed(
    request: FastifyRequest,
    reply: FastifyReply,
    operatorId: string | undefined,
    name: FeedName,
  ) {
    await knownOperator(operatorId);
    const s = await snapshot(operatorId);
    const ttl = ttlOf(name);
    const updated = REALTIME_FEEDS.has(name) ? s.now : staticUpdatedAt(s, name);
    switch (name) {
      case 'system_information':
        return send(reply, updated, ttl, systemInformation(s, `${base(request)}/gbfs/manifest.json`));
      case 'vehicle_types':
        return send(reply, updated, ttl, vehicleTypes(s));
      case 'station_information':
        return send(reply, updated, ttl, stationInformation(s));
      case 'station_status':
        return send(reply, updated, ttl, stationStatus(s));
      case 'vehicle_status':
        return send(reply, updated, ttl, vehicleStatus(s));
      case 'system_pricing_plans':
        // An optional feed: 404 where no operator of the system has set plans (GBFS allows it).
        if (!hasPricing(s)) throw apiError('not_found', 'no pricing plans published for this system');
        return send(reply, updated, ttl, systemPricingPlans(s));
    }
  }

  app.get(
    '/gbfs/manifest.json',
    {
      ...common,
      schema: {
        ...common.schema,
        summary: 'GBFS 3.0 manifest: every system of the network (the whole network, each operator)',
      },
    },
    async (request, reply) => {
      const ops = await operatorIds();
      const b = base(request);
      const datasets = [undefined, ...ops].map((op) => ({
        system_id: systemIdOf(op),
        versions: [{ version: GBFS_VERSION, url: `${b}${systemPath(op)}/gbfs.json` }],
      }));
      return send(reply, new Date(), c.GBFS_STATIC_TTL_S, { datasets });
    },
  );

  app.get(
    '/gbfs/gbfs.json',
    { ...common, schema: { ...common.schema, summary: "GBFS 3.0 discovery file of the network's system" } },
    (request, reply) => discovery(request, reply, undefined),
  );
  app.get(
    '/gbfs/operators/:operator/gbfs.json',
    {
      ...common,
      schema: {
        ...common.schema,
        summary: "GBFS 3.0 discovery file of one operator's system",
        params: operatorParams,
      },
    },
    (request, reply) => discovery(request, reply, request.params.operator),
  );
  for (const name of FEEDS) {
    const realtime = REALTIME_FEEDS.has(name);
    const description = realtime
      ? `near-realtime, ttl GBFS_REALTIME_TTL_S (${c.GBFS_REALTIME_TTL_S} s)`
      : `ttl GBFS_STATIC_TTL_S (${c.GBFS_STATIC_TTL_S} s)`;
    app.get(
      `/gbfs/${name}.json`,
      { ...common, schema: { ...common.schema, summary: `GBFS 3.0 ${name} of the network`, description } },
      (request, reply) => feed(request, reply, undefined, name),
    );
    app.get(
      `/gbfs/operators/:operator/${name}.json`,
      {
        ...common,
        schema: {
          ...common.schema,
          summary: `GBFS 3.0 ${name} of one operator`,
          description,
          params: operatorParams,
        },
      },
      (request, reply) => feed(request, reply, request.params.operator, name),
    );
  }
};
