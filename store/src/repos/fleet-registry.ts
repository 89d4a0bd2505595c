import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { bit, iso } from '../mapping.ts';
import type { Database, GbfsSystemsTable, StationsTable, VehicleTypesTable } from '../schema.ts';
import type { FleetRegistryRepo, GbfsSystem, Station, VehicleType } from '../types.ts';

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

const toStation = (r: Selectable<StationsTable>): Station => ({
  id: r.id,
  operatorId: r.operator_id,
  name: r.name,
  lat: Number(r.lat),
  lon: Number(r.lon),
  address: r.address,
  parkingType: r.parking_type,
  capacity: r.capacity === null ? null : Number(r.capacity),
  charging: Boolean(r.charging),
  updatedAt: toDate(r.updated_at),
});

const toType = (r: Selectable<VehicleTypesTable>): VehicleType => ({
  operatorId: r.operator_id,
  id: r.id,
  propulsion: r.propulsion,
  make: r.make,
  model: r.model,
  maxRangeM: Number(r.max_range_m),
  gCo2Km: r.g_co2_km === null ? null : Number(r.g_co2_km),
  riderCapacity: r.rider_capacity === null ? null : Number(r.rider_capacity),
  updatedAt: toDate(r.updated_at),
});

const toSystem = (r: Selectable<GbfsSystemsTable>): GbfsSystem => ({
  operatorId: r.operator_id,
  info: JSON.parse(r.info),
  pricingPlans: r.pricing_plans === null ? null : JSON.parse(r.pricing_plans),
  updatedAt: toDate(r.updated_at),
});

/** Upserts by primary key (both backends speak `on conflict ... do update`). */
export function createFleetRegistryRepo(db: Kysely<Database>): FleetRegistryRepo {
  let key: Promise<Buffer> | undefined;
  const loadKey = async (): Promise<Buffer> => {
    // The first instance to get here writes it; every other one (now or later) reads that one.
    await db
      .insertInto('meta')
      .values({ key: 'gbfs_id_key', value: randomBytes(32).toString('base64') })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const row = await db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', 'gbfs_id_key')
      .executeTakeFirstOrThrow();
    return Buffer.from(row.value, 'base64');
  };
  const installValue = async (k: string, make: () => string): Promise<string> => {
    await db
      .insertInto('meta')
      .values({ key: k, value: make() })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    return (await db.selectFrom('meta').select('value').where('key', '=', k).executeTakeFirstOrThrow()).value;
  };
  return {
    installValue,
    idKey() {
      key ??= loadKey();
      key.catch(() => {
        key = undefined;
      });
      return key;
    },
    async putStation(s) {
      const row = {
        id: s.id,
        operator_id: s.operatorId,
        name: s.name,
        lat: s.lat,
        lon: s.lon,
        address: s.address,
        parking_type: s.parkingType,
        capacity: s.capacity,
        charging: bit(s.charging),
        updated_at: iso(new Date()),
      };
      const { id: _id, ...rest } = row;
      return toStation(
        await db
          .insertInto('stations')
          .values(row)
          .onConflict((oc) => oc.column('id').doUpdateSet(rest))
          .returningAll()
          .executeTakeFirstOrThrow(),
      );
    },
    async getStation(id) {
      const r = await db.selectFrom('stations').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toStation(r);
    },
    async listStations(f = {}) {
      let q = db.selectFrom('stations').selectAll();
      if (f.operatorId) q = q.where('operator_id', '=', f.operatorId);
      return (await q.orderBy('id').execute()).map(toStation);
    },
    async putVehicleType(t) {
      const row = {
        operator_id: t.operatorId,
        id: t.id,
        propulsion: t.propulsion,
        make: t.make,
        model: t.model,
        max_range_m: t.maxRangeM,
        g_co2_km: t.gCo2Km,
        rider_capacity: t.riderCapacity,
        updated_at: iso(new Date()),
      };
      const { operator_id: _o, id: _i, ...rest } = row;
      return toType(
        await db
          .insertInto('vehicle_types')
          .values(row)
          .onConflict((oc) => oc.columns(['operator_id', 'id']).doUpdateSet(rest))
          .returningAll()
          .executeTakeFirstOrThrow(),
      );
    },
    async listVehicleTypes(f = {}) {
      let q = db.selectFrom('vehicle_types').selectAll();
      if (f.operatorId) q = q.where('operator_id', '=', f.operatorId);
      return (await q.orderBy('operator_id').orderBy('id').execute()).map(toType);
    },
    async placeVehicle(p) {
      const row = {
        vehicle_id: p.vehicleId,
        vehicle_type_id: p.vehicleTypeId,
        station_id: p.stationId,
        updated_at: iso(new Date()),
      };
      const { vehicle_id: _v, ...rest } = row;
      const r = await db
        .insertInto('vehicle_placements')
        .values(row)
        .onConflict((oc) => oc.column('vehicle_id').doUpdateSet(rest))
        .returningAll()
        .executeTakeFirstOrThrow();
      return {
        vehicleId: r.vehicle_id,
        vehicleTypeId: r.vehicle_type_id,
        stationId: r.station_id,
        updatedAt: toDate(r.updated_at),
      };
    },
    async listPlacements() {
      const rows = await db.selectFrom('vehicle_placements').selectAll().execute();
      return rows.map((r) => ({
        vehicleId: r.vehicle_id,
        vehicleTypeId: r.vehicle_type_id,
        stationId: r.station_id,
        updatedAt: toDate(r.updated_at),
      }));
    },
    async putSystem(s) {
      const row = {
        operator_id: s.operatorId,
        info: JSON.stringify(s.info),
        pricing_plans: s.pricingPlans === null ? null : JSON.stringify(s.pricingPlans),
        updated_at: iso(new Date()),
      };
      const { operator_id: _o, ...rest } = row;
      return toSystem(
        await db
          .insertInto('gbfs_systems')
          .values(row)
          .onConflict((oc) => oc.column('operator_id').doUpdateSet(rest))
          .returningAll()
          .executeTakeFirstOrThrow(),
      );
    },
    async getSystem(operatorId) {
      const r = await db
        .selectFrom('gbfs_systems')
        .selectAll()
        .where('operator_id', '=', operatorId)
        .executeTakeFirst();
      return r && toSystem(r);
    },
    async listSystems() {
      return (await db.selectFrom('gbfs_systems').selectAll().orderBy('operator_id').execute()).map(toSystem);
    },
  };
}
