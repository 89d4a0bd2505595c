import { createHmac } from 'node:crypto';
import type { Device, GbfsSystem, Station, VehiclePlacement, VehicleType } from '@citytel/store';
import type { VehicleLive } from '../commands/fleet.ts';
import { AT_STATION_M, distanceM, isAvailable } from '../commands/fleet-view.ts';

/**
 * The GBFS 3.0 feeds (MobilityData gbfs.md, tag v3.0) built from one snapshot of the store and the live
 * fleet, as plain functions: the routes read, these shape. Every id of a type or pricing plan is qualified by
 * its operator (`{operator}:{id}`), so the network's system and each operator's use the same ids.
 */

export const GBFS_VERSION = '3.0' as const;
export const FEEDS = [
  'system_information',
  'vehicle_types',
  'station_information',
  'station_status',
  'vehicle_status',
  'system_pricing_plans',
] as const;
export type FeedName = (typeof FEEDS)[number];
export const REALTIME_FEEDS: ReadonlySet<FeedName> = new Set(['station_status', 'vehicle_status']);

/** One system: the whole network, or one operator. */
export interface GbfsSystemScope {
  systemId: string;
  /** Undefined for the network: every operator. */
  operatorId: string | undefined;
}

export interface GbfsSettings {
  GBFS_NETWORK_NAME: string;
  GBFS_FEED_EMAIL: string;
  GBFS_TIMEZONE: string;
  GBFS_LANGUAGE: string;
  GBFS_OPENING_HOURS: string;
  MOVING_SPEED_KMH: number;
  OPEN_DATA_LICENSE: string;
}

/** What the feeds of one system are built from, read once per request. */
export interface GbfsSnapshot {
  now: Date;
  scope: GbfsSystemScope;
  settings: GbfsSettings;
  operatorNames: Map<string, string>;
  devices: Device[];
  placements: Map<string, VehiclePlacement>;
  types: VehicleType[];
  stations: Station[];
  systems: Map<string, GbfsSystem>;
  /** Cars booked now or within the grace period. */
  reserved: Set<string>;
  nextStarts: Map<string, Date>;
  /** Per car, the start of its latest trip (booking) so far: what its public id is derived from. */
  lastStarts: Map<string, Date>;
  idKey: Buffer;
  live(id: string): VehicleLive | undefined;
}

/** RFC 3339 to the second, as GBFS's Timestamp fields are written. */
export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
const typeId = (t: { operatorId: string; id: string }) => `${t.operatorId}:${t.id}`;

const localized = (s: GbfsSnapshot, text: string) => [{ text, language: s.settings.GBFS_LANGUAGE }];

/**
 * The public id of a car: an HMAC of its id and the start of its latest trip, under the installation's own
 * key. It changes after every trip (GBFS >= 2.0: ids MUST rotate to protect the members) and cannot be
 * linked back to the car, nor one trip's id to the next, without the key; it is stable between trips, so a
 * consumer does not see a parked car "move".
 */
export function publicVehicleId(key: Buffer, vehicleId: string, lastTripStart: Date | undefined): string {
  return createHmac('sha256', key)
    .update(`${vehicleId}\n${lastTripStart ? lastTripStart.toISOString() : '-'}`)
    .digest('base64url')
    .slice(0, 22);
}

/** The operator's pricing plans as GBFS writes them (stored as the operator gave them, see gbfs-registry.ts). */
export interface PricingPlan {
  plan_id: string;
  name: string;
  currency: string;
  price: number;
  is_taxable: boolean;
  description: string;
  per_km_pricing?: Array<{ start: number; rate: number; interval: number; end?: number }>;
  per_min_pricing?: Array<{ start: number; rate: number; interval: number; end?: number }>;
}

const inScope = (s: GbfsSnapshot, operatorId: string | null) =>
  operatorId !== null && (s.scope.operatorId === undefined || s.scope.operatorId === operatorId);

function plansOf(s: GbfsSnapshot, operatorId: string): PricingPlan[] {
  return (s.systems.get(operatorId)?.pricingPlans as PricingPlan[] | null) ?? [];
}

function scopeTypes(s: GbfsSnapshot): VehicleType[] {
  return s.types.filter((t) => inScope(s, t.operatorId));
}

/**
 * GBFS: once system_pricing_plans exists, every vehicle type needs a default plan. The feed exists when
 * every operator with vehicle types in the system has set plans.
 */
export function hasPricing(s: GbfsSnapshot): boolean {
  const ops = new Set(scopeTypes(s).map((t) => t.operatorId));
  if (ops.size === 0) return false;
  return [...ops].every((op) => plansOf(s, op).length > 0);
}

export function systemInformation(s: GbfsSnapshot, manifestUrl: string) {
  const op = s.scope.operatorId;
  const info = (op ? s.systems.get(op)?.info : undefined) as
    | { name?: string; url?: string; email?: string; phoneNumber?: string; purchaseUrl?: string }
    | undefined;
  const name = info?.name ?? (op ? (s.operatorNames.get(op) ?? op) : s.settings.GBFS_NETWORK_NAME);
  return {
    system_id: s.scope.systemId,
    languages: [s.settings.GBFS_LANGUAGE],
    name: localized(s, name),
    ...(op ? { operator: localized(s, s.operatorNames.get(op) ?? op) } : {}),
    opening_hours: s.settings.GBFS_OPENING_HOURS,
    feed_contact_email: s.settings.GBFS_FEED_EMAIL,
    timezone: s.settings.GBFS_TIMEZONE,
    license_id: s.settings.OPEN_DATA_LICENSE,
    manifest_url: manifestUrl,
    ...(info?.url ? { url: info.url } : {}),
    ...(info?.purchaseUrl ? { purchase_url: info.purchaseUrl } : {}),
    ...(info?.email ? { email: info.email } : {}),
    ...(info?.phoneNumber ? { phone_number: info.phoneNumber } : {}),
  };
}

export function vehicleTypes(s: GbfsSnapshot) {
  const pricing = hasPricing(s);
  return {
    vehicle_types: scopeTypes(s).map((t) => {
      const plans = pricing ? plansOf(s, t.operatorId) : [];
      return {
        vehicle_type_id: typeId(t),
        form_factor: 'car',
        propulsion_type: t.propulsion,
        max_range_meters: t.maxRangeM,
        name: localized(s, `${t.make} ${t.model}`),
        make: localized(s, t.make),
        model: localized(s, t.model),
        return_constraint: 'roundtrip_station',
        ...(t.gCo2Km !== null ? { g_CO2_km: t.gCo2Km } : {}),
        ...(t.riderCapacity !== null ? { rider_capacity: t.riderCapacity } : {}),
        ...(plans.length
          ? {
              default_pricing_plan_id: `${t.operatorId}:${plans[0]!.plan_id}`,
              pricing_plan_ids: plans.map((p) => `${t.operatorId}:${p.plan_id}`),
            }
          : {}),
      };
    }),
  };
}

const scopeStations = (s: GbfsSnapshot) => s.stations.filter((st) => inScope(s, st.operatorId));

export function stationInformation(s: GbfsSnapshot) {
  return {
    stations: scopeStations(s).map((st) => ({
      station_id: st.id,
      name: localized(s, st.name),
      lat: round6(st.lat),
      lon: round6(st.lon),
      ...(st.address ? { address: st.address } : {}),
      ...(st.parkingType ? { parking_type: st.parkingType } : {}),
      ...(st.capacity !== null ? { capacity: st.capacity } : {}),
      is_charging_station: st.charging,
      rental_methods: ['key', 'phone'],
    })),
  };
}

interface FreeCar {
  device: Device;
  placement: VehiclePlacement;
  type: VehicleType;
  live: VehicleLive;
  fraction: number;
}

/**
 * The cars anyone may see: free to book now (online, locked, engine off, not booked now or within the grace
 * period, at their station), not moving, with a type, a home station and a known fuel or charge. A booked
 * or moving car is never in it, so its position never is either.
 */
function freeCars(s: GbfsSnapshot): FreeCar[] {
  const types = new Map(s.types.map((t) => [typeId(t), t] as const));
  const out: FreeCar[] = [];
  for (const d of s.devices) {
    if (!inScope(s, d.operatorId)) continue;
    const placement = s.placements.get(d.id);
    const type = placement && types.get(`${d.operatorId}:${placement.vehicleTypeId}`);
    const live = s.live(d.id);
    if (!placement?.stationId || !type || !live) continue;
    if (!isAvailable(d, live, s.reserved.has(d.id))) continue;
    if ((live.numbers.speed_kmh ?? 0) > s.settings.MOVING_SPEED_KMH) continue;
    const pct = type.propulsion === 'electric' ? live.numbers.battery_pct : live.numbers.fuel_pct;
    if (pct === undefined) continue;
    out.push({ device: d, placement, type, live, fraction: Math.min(1, Math.max(0, pct / 100)) });
  }
  return out;
}

export function vehicleStatus(s: GbfsSnapshot) {
  return {
    vehicles: freeCars(s).map((c) => {
      const reported = c.live.telemetryAt ?? c.live.statusAt;
      const next = s.nextStarts.get(c.device.id);
      const plans = hasPricing(s) ? plansOf(s, c.type.operatorId) : [];
      return {
        vehicle_id: publicVehicleId(s.idKey, c.device.id, s.lastStarts.get(c.device.id)),
        vehicle_type_id: typeId(c.type),
        station_id: c.placement.stationId!,
        home_station_id: c.placement.stationId!,
        is_reserved: false,
        is_disabled: false,
        current_fuel_percent: Math.round(c.fraction * 1000) / 1000,
        current_range_meters: Math.round(c.fraction * c.type.maxRangeM),
        ...(reported ? { last_reported: rfc3339(reported) } : {}),
        ...(next ? { available_until: rfc3339(next) } : {}),
        ...(plans.length ? { pricing_plan_id: `${c.type.operatorId}:${plans[0]!.plan_id}` } : {}),
      };
    }),
  };
}

export function stationStatus(s: GbfsSnapshot) {
  const free = freeCars(s);
  const types = new Map(s.types.map((t) => [typeId(t), t] as const));
  return {
    stations: scopeStations(s).map((st) => {
      const here = free.filter((c) => c.placement.stationId === st.id);
      const placed = s.devices.filter((d) => s.placements.get(d.id)?.stationId === st.id);
      const counts = new Map<string, number>();
      for (const d of placed) {
        const t = types.get(`${d.operatorId}:${s.placements.get(d.id)!.vehicleTypeId}`);
        if (t) counts.set(typeId(t), counts.get(typeId(t)) ?? 0);
      }
      for (const c of here) counts.set(typeId(c.type), (counts.get(typeId(c.type)) ?? 0) + 1);
      // Places taken: the station's cars standing there now (free, booked but not gone, or unknown).
      const present = placed.filter((d) => {
        const p = s.live(d.id)?.position;
        return !p || distanceM(p, { lat: st.lat, lon: st.lon }) <= AT_STATION_M;
      }).length;
      const reports = placed
        .map((d) => s.live(d.id)?.telemetryAt ?? s.live(d.id)?.statusAt)
        .filter((t): t is Date => t !== undefined)
        .map((t) => t.getTime());
      return {
        station_id: st.id,
        num_vehicles_available: here.length,
        vehicle_types_available: [...counts].map(([id, count]) => ({ vehicle_type_id: id, count })),
        ...(st.capacity !== null ? { num_docks_available: Math.max(0, st.capacity - present) } : {}),
        is_installed: true,
        is_renting: true,
        is_returning: true,
        last_reported: rfc3339(new Date(reports.length ? Math.max(...reports) : st.updatedAt.getTime())),
      };
    }),
  };
}

export function systemPricingPlans(s: GbfsSnapshot) {
  const ops = [...new Set(scopeTypes(s).map((t) => t.operatorId))];
  return {
    plans: ops.flatMap((op) =>
      plansOf(s, op).map((p) => ({
        ...p,
        plan_id: `${op}:${p.plan_id}`,
        name: localized(s, p.name),
        description: localized(s, p.description),
      })),
    ),
  };
}

/** When the static part of a feed last changed: its newest row, else the snapshot's time. */
export function staticUpdatedAt(s: GbfsSnapshot, feed: FeedName): Date {
  const times: number[] = [];
  if (feed === 'vehicle_types') times.push(...scopeTypes(s).map((t) => t.updatedAt.getTime()));
  if (feed === 'station_information') times.push(...scopeStations(s).map((t) => t.updatedAt.getTime()));
  if (feed === 'system_information' || feed === 'system_pricing_plans')
    for (const [op, sys] of s.systems) if (inScope(s, op)) times.push(sys.updatedAt.getTime());
  return times.length ? new Date(Math.max(...times)) : s.now;
}
