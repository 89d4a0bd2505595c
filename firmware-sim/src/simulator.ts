import type { Logger } from 'pino';
import { stationPosition } from './city.ts';
import { type Clock, createClock } from './clock.ts';
import type { SimConfig } from './config.ts';
import { round6 } from './geo.ts';
import { AirrohrKit } from './kits/airrohr.ts';
import type { Kit, KitDeps } from './kits/base.ts';
import { NativeKit } from './kits/native.ts';
import { SckKit } from './kits/sck.ts';
import { createModel, type Model } from './model.ts';
import { type KitSpec, type Plan, planFleet, type VehicleSpec } from './plan.ts';
import {
  type Credentials,
  createProvisioner,
  type DeviceRequest,
  ProvisionError,
  type Provisioner,
} from './provision.ts';
import { hashUnit } from './rng.ts';
import { type Counters, createCounters, type SimStats } from './stats.ts';
import { fetchPlatformKey, registerFleet } from './vehicles/fleet-setup.ts';
import { createMembers, type Members } from './vehicles/members.ts';
import { Vehicle, type VehicleDeps } from './vehicles/obu.ts';
import { roadGraph } from './vehicles/routes.ts';

export interface SimulatorDeps {
  log: Logger;
  fetch?: typeof fetch;
  clock?: Clock;
  /** Defaults to the api + state file of the config. */
  provisioner?: Provisioner;
}

export interface Simulator {
  readonly config: SimConfig;
  readonly plan: Plan;
  readonly model: Model;
  /** Filled by start(), once each device has its credentials. */
  readonly kits: Kit[];
  readonly vehicles: Vehicle[];
  /** Provisions what is missing, then connects every kit and car. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves when the simulator has stopped (stop(), or the end of `durationS`). */
  readonly done: Promise<void>;
  stats(): SimStats;
  /** A car by its planned or registered id. */
  vehicle(id: string): Vehicle | undefined;
  kit(id: string): Kit | undefined;
}

/** Pause between two devices' first connections, so a hundred logins do not land in one instant. */
const CONNECT_SPREAD_MS = 25;
/** A device whose login is refused is registered again at most this many times per run. */
const MAX_RECREATE = 2;

export const kitRequest = (s: KitSpec): DeviceRequest => ({
  id: s.id,
  kind: s.kind,
  name: s.name,
  lat: round6(s.position.lat),
  lon: round6(s.position.lon),
  mobile: s.mobile,
  indoor: s.indoor,
});

export function createSimulator(config: SimConfig, deps: SimulatorDeps): Simulator {
  const log = deps.log.child({ component: 'simulator' });
  const clock = deps.clock ?? createClock(config.speedup);
  const counters: Counters = createCounters();
  const plan = planFleet({
    seed: config.seed,
    kits: config.kits,
    vehicles: config.vehicles,
    prefix: config.prefix,
    city: config.city,
  });
  const model = createModel({ seed: config.seed, city: config.city });
  const graph = roadGraph(config.city);
  const doFetch = deps.fetch ?? fetch;
  const kits: Kit[] = [];
  const vehicles: Vehicle[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const recreated = new Map<string, number>();
  let provisioner: Provisioner | undefined = deps.provisioner;
  let stopped = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });

  const vehicleRequest = (s: VehicleSpec): DeviceRequest => {
    const p = stationPosition(config.city, s.homeStation);
    return { id: s.id, kind: 'vehicle', name: s.name, lat: p.lat, lon: p.lon, mobile: true, indoor: false };
  };

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  /** A refused login: register the device again under a new id, or say clearly why we cannot. */
  async function recover(
    device: { spec: { id: string }; setCredentials(c: Credentials): void; start(ms?: number): void },
    req: DeviceRequest,
    reason: string,
  ): Promise<void> {
    if (stopped || !provisioner) return;
    const n = (recreated.get(req.id) ?? 0) + 1;
    recreated.set(req.id, n);
    if (n > MAX_RECREATE) {
      log.error(
        { device: req.id, reason },
        'login refused again after re-registering; giving up on this device',
      );
      return;
    }
    try {
      const creds = await provisioner.recreate(req, reason);
      if (stopped) return;
      device.setCredentials(creds);
      device.start(0);
    } catch (e) {
      const hint =
        e instanceof ProvisionError && e.code === 'no_admin_token'
          ? `delete ${config.stateFile} or pass --admin-token so the simulator can register it again`
          : (e as Error).message;
      log.error({ device: req.id, reason }, `the platform refused this device's credentials: ${hint}`);
    }
  }

  const kitDeps: KitDeps = {
    model,
    clock,
    counters,
    log: deps.log,
    city: config.city,
    graph,
    seed: config.seed,
    mqttUrl: config.mqttUrl,
    apiUrl: config.apiUrl,
    fetch: doFetch,
    intervalS: config.intervalS,
    onAuthFailure: (kit, reason) => void recover(kit, kitRequest(kit.spec), reason),
  };
  // Members book the departures of cars parked underground: that needs the operator token and auto trips.
  const members: Members | undefined =
    config.members && config.underground && config.autoTrips && config.adminToken
      ? createMembers({
          apiUrl: config.apiUrl,
          token: config.adminToken,
          fetch: doFetch,
          clock,
          seed: config.seed,
          counters,
          log: deps.log,
          intervalS: config.vehicleIntervalS,
        })
      : undefined;
  const vehicleDeps: VehicleDeps = {
    clock,
    counters,
    log: deps.log,
    model,
    city: config.city,
    graph,
    seed: config.seed,
    mqttUrl: config.mqttUrl,
    vehicleIntervalS: config.vehicleIntervalS,
    autoTrips: config.autoTrips,
    underground: config.underground,
    ...(members ? { onParkedUnderground: members.onParkedUnderground } : {}),
    onAuthFailure: (v, reason) => void recover(v, vehicleRequest(v.spec), reason),
  };

  async function provisionAll(): Promise<{ kits: Credentials[]; vehicles: Credentials[] }> {
    provisioner ??= await createProvisioner(
      { apiUrl: config.apiUrl, adminToken: config.adminToken, stateFile: config.stateFile },
      { log: deps.log, fetch: doFetch },
    );
    const p = provisioner;
    const missing = [...plan.kits, ...plan.vehicles].filter((s) => !p.known().has(s.id)).length;
    if (missing > 0 && !config.adminToken) {
      throw new ProvisionError(
        'no_admin_token',
        `${missing} simulated devices are not registered yet (state file ${config.stateFile}); ` +
          'give an operator token with --admin-token or BOOTSTRAP_ADMIN_TOKEN',
      );
    }
    if (missing > 0) log.info({ devices: missing, api: config.apiUrl }, 'registering simulated devices');
    const requests = [...plan.kits.map(kitRequest), ...plan.vehicles.map(vehicleRequest)];
    const creds = new Array<Credentials>(requests.length);
    let next = 0;
    // A few at a time: each registration costs the api one scrypt hash.
    const worker = async () => {
      for (let i = next++; i < requests.length; i = next++) creds[i] = await p.ensure(requests[i]!);
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    return { kits: creds.slice(0, plan.kits.length), vehicles: creds.slice(plan.kits.length) };
  }

  const stats = (): SimStats => ({
    kits: kits.length,
    kitsOnline: kits.filter((k) => k.online).length,
    vehicles: vehicles.length,
    vehiclesOnline: vehicles.filter((v) => v.online).length,
    ...counters,
  });

  async function stop(): Promise<void> {
    if (stopped) return done;
    stopped = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    members?.stop();
    await Promise.allSettled([...kits.map((k) => k.stop()), ...vehicles.map((v) => v.stop())]);
    log.info({ stats: stats() }, 'simulator stopped');
    resolveDone();
    return done;
  }

  async function start(): Promise<void> {
    const creds = await provisionAll();
    plan.kits.forEach((spec, i) => {
      const c = creds.kits[i]!;
      kits.push(
        spec.kind === 'native'
          ? new NativeKit(spec, c, kitDeps)
          : spec.kind === 'sck'
            ? new SckKit(spec, c, kitDeps)
            : new AirrohrKit(spec, c, kitDeps),
      );
    });
    plan.vehicles.forEach((spec, i) => {
      vehicles.push(new Vehicle(spec, creds.vehicles[i]!, vehicleDeps));
    });
    if (config.adminToken && vehicles.length > 0) {
      // Stations, types and home stations for GBFS; the fleet runs without them (they are only public data).
      await registerFleet({
        apiUrl: config.apiUrl,
        token: config.adminToken,
        city: config.city,
        cars: vehicles.map((v) => ({ id: v.id, spec: v.spec })),
        log,
      }).catch((err: Error) => log.warn({ err: err.message }, 'could not register the fleet for GBFS'));
    }
    if (vehicles.length > 0) {
      // Offline unlock: the units check their booking lists with the platform's key.
      const key = await fetchPlatformKey(config.apiUrl).catch(() => undefined);
      if (key) for (const v of vehicles) v.trustPlatformKey(key);
      else log.warn('no platform signing key: the cars cannot open offline');
    }
    // First readings spread over the first period (at most 10 s), as kits powered up at random times.
    const firstWindow = Math.min(10_000, (config.intervalS * 1000) / clock.speedup);
    const vehicleWindow = Math.min(10_000, (config.vehicleIntervalS * 1000) / clock.speedup);
    let slot = 0;
    for (const k of kits) {
      const first = hashUnit(config.seed, k.spec.id, 'first') * firstWindow;
      later(slot++ * CONNECT_SPREAD_MS, () => !stopped && k.start(first));
    }
    for (const v of vehicles) {
      const first = hashUnit(config.seed, v.spec.id, 'first') * vehicleWindow;
      later(slot++ * CONNECT_SPREAD_MS, () => !stopped && v.start(first));
    }
    members?.start();
    if (config.durationS > 0) later(config.durationS * 1000, () => void stop());
    log.info(
      {
        kits: kits.length,
        vehicles: vehicles.length,
        mqtt: config.mqttUrl,
        api: config.apiUrl,
        speedup: clock.speedup,
      },
      'simulator started',
    );
  }

  return {
    config,
    plan,
    model,
    kits,
    vehicles,
    done,
    start,
    stop,
    stats,
    vehicle: (id) => vehicles.find((v) => v.id === id || v.spec.id === id),
    kit: (id) => kits.find((k) => k.id === id || k.spec.id === id),
  };
}
