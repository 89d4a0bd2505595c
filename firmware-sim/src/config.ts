import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  boolFlag,
  ConfigError,
  fromInvocationDir,
  loadConfig,
  logLevel,
  mqttUrlOf,
  optionalString,
  port,
  sharedEnv,
} from '@citytel/contract';
import { z } from 'zod';
import { CITIES, type City, type CityName } from './city.ts';

/**
 * The simulator's settings: environment variables (CONTRACT §5 plus SIM_*), overridden by command-line
 * flags. Every flag maps to one variable, so both are validated by the one schema below.
 */
const count = (fallback: number) => z.coerce.number().int().min(0).max(1_000_000).default(fallback);
const seconds = (fallback: number, min = 0) =>
  z.coerce
    .number()
    .min(min)
    .max(86_400 * 365)
    .default(fallback);

export const simEnvSchema = z.object({
  DATA_DIR: sharedEnv.DATA_DIR,
  LOG_LEVEL: logLevel,
  MQTT_PORT: sharedEnv.MQTT_PORT,
  MQTT_URL: sharedEnv.MQTT_URL,
  MQTT_SERVICE_SECRET: sharedEnv.MQTT_SERVICE_SECRET,
  /** Password of svc:sim (the load gateway); unset, derived from MQTT_SERVICE_SECRET or read under DATA_DIR. */
  MQTT_SECRET_SIM: sharedEnv.MQTT_SERVICE_SECRET,
  API_PORT: port(8080),
  API_URL: optionalString.pipe(z.url().optional()),
  BOOTSTRAP_ADMIN_TOKEN: optionalString,
  SIM_KITS: count(50),
  SIM_VEHICLES: count(20),
  SIM_CITY: z.enum(Object.keys(CITIES) as [CityName, ...CityName[]]).default('rennes'),
  /** Kit reporting period in seconds; real kits report every 1–5 minutes, 60 s suits a demo. */
  SIM_INTERVAL: seconds(60, 0.05),
  SIM_VEHICLE_INTERVAL: seconds(10, 0.05),
  /** Seconds to run; 0 runs until stopped. */
  SIM_DURATION: seconds(0),
  SIM_SEED: z.coerce.number().int().min(0).max(0xffffffff).default(42),
  SIM_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,32}$/, 'letters, digits and _ only, at most 32')
    .default('sim'),
  /** Time acceleration: the model's clock and the cars run this much faster; reports come this much more often. */
  SIM_SPEEDUP: z.coerce.number().min(0.01).max(10_000).default(1),
  SIM_STATE_FILE: optionalString,
  /** Cars start trips between stations on their own (a member with a badge); off for command tests. */
  SIM_AUTO_TRIPS: boolFlag(true),
  /** A car whose trip ends at an underground station loses its uplink until it drives out (offline unlock). */
  SIM_UNDERGROUND: boolFlag(true),
  /**
   * Members book cars parking underground (needs the operator token) and tap their cards there, one now and
   * then with a wrong card first; the car opens offline from its signed booking list.
   */
  SIM_MEMBERS: boolFlag(true),
  SIM_LOAD: boolFlag(false),
  SIM_LOAD_DEVICES: count(1000),
  SIM_LOAD_CONNECTIONS: z.coerce.number().int().min(1).max(10_000).default(10),
  SIM_LOAD_QOS: z.coerce.number().int().min(0).max(1).default(1),
  SIM_LOAD_BATCH: z.coerce.number().int().min(1).max(1000).default(10),
  /** Readings to send in all. */
  SIM_LOAD_TOTAL: count(100_000),
  SIM_LOAD_INFLIGHT: z.coerce.number().int().min(1).max(65_535).default(64),
  /** One connection per device (provisioned, with its secret) instead of the svc:sim gateway. */
  SIM_LOAD_PER_DEVICE: boolFlag(false),
  /** Register the load devices through the api first, so ingest accepts their readings end to end. */
  SIM_LOAD_PROVISION: boolFlag(false),
});

/** Flag → variable. */
const FLAGS = {
  kits: 'SIM_KITS',
  vehicles: 'SIM_VEHICLES',
  city: 'SIM_CITY',
  interval: 'SIM_INTERVAL',
  'vehicle-interval': 'SIM_VEHICLE_INTERVAL',
  duration: 'SIM_DURATION',
  seed: 'SIM_SEED',
  'api-url': 'API_URL',
  'mqtt-url': 'MQTT_URL',
  'admin-token': 'BOOTSTRAP_ADMIN_TOKEN',
  prefix: 'SIM_PREFIX',
  speedup: 'SIM_SPEEDUP',
  'state-file': 'SIM_STATE_FILE',
  'auto-trips': 'SIM_AUTO_TRIPS',
  underground: 'SIM_UNDERGROUND',
  members: 'SIM_MEMBERS',
  'log-level': 'LOG_LEVEL',
  'load-devices': 'SIM_LOAD_DEVICES',
  'load-connections': 'SIM_LOAD_CONNECTIONS',
  'load-qos': 'SIM_LOAD_QOS',
  'load-batch': 'SIM_LOAD_BATCH',
  'load-total': 'SIM_LOAD_TOTAL',
  'load-inflight': 'SIM_LOAD_INFLIGHT',
} as const;
const BOOLEAN_FLAGS = {
  load: 'SIM_LOAD',
  'load-per-device': 'SIM_LOAD_PER_DEVICE',
  'load-provision': 'SIM_LOAD_PROVISION',
} as const;

export interface LoadSettings {
  devices: number;
  connections: number;
  qos: 0 | 1;
  batch: number;
  total: number;
  inflight: number;
  perDevice: boolean;
  provision: boolean;
}

export interface SimConfig {
  kits: number;
  vehicles: number;
  city: City;
  intervalS: number;
  vehicleIntervalS: number;
  durationS: number;
  seed: number;
  apiUrl: string;
  mqttUrl: string;
  adminToken: string | undefined;
  prefix: string;
  speedup: number;
  stateFile: string;
  autoTrips: boolean;
  underground: boolean;
  members: boolean;
  logLevel: z.infer<typeof logLevel>;
  /** The svc:sim password's sources: its own variable, the older shared one (load.ts readServiceSecret). */
  simSecret: { own: string | undefined; shared: string | undefined };
  dataDir: string;
  load: boolean;
  loadSettings: LoadSettings;
}

export const HELP = `citytel firmware simulator: plays Smart Citizen, sensor.community and native kits and carsharing cars.

  --kits N              sensor kits (50)                 --vehicles N          cars (20)
  --city NAME           rennes                           --seed N              PRNG seed (42)
  --interval S          kit reporting period (60)        --vehicle-interval S  car telemetry period (10)
  --duration S          stop after S seconds (0: never)  --speedup X           time acceleration (1)
  --api-url URL         api (http://127.0.0.1:$API_PORT) --mqtt-url URL        broker (mqtt://127.0.0.1:$MQTT_PORT)
  --admin-token T       operator token for provisioning (BOOTSTRAP_ADMIN_TOKEN)
  --prefix P            device id prefix (sim)           --state-file F        ($DATA_DIR/sim-devices.json)
  --auto-trips BOOL     cars drive on their own (true)
  --underground BOOL    cars parked underground lose their uplink (true)
  --members BOOL        members book underground cars and tap their cards (true)
  --load                benchmark mode: --load-devices N --load-connections C --load-qos 0|1
                        --load-batch B --load-total N --load-inflight N --load-per-device --load-provision
Every flag also reads from its variable (SIM_KITS, SIM_INTERVAL, ..., see firmware-sim/src/config.ts).`;

/** Parses flags into variable overrides; an unknown flag is a ConfigError naming it. */
export function flagsToEnv(argv: readonly string[]): { env: Record<string, string>; help: boolean } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])),
        ...Object.fromEntries(Object.keys(BOOLEAN_FLAGS).map((f) => [f, { type: 'boolean' as const }])),
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const env: Record<string, string> = {};
  for (const [flag, value] of Object.entries(parsed.values)) {
    if (flag in FLAGS) env[FLAGS[flag as keyof typeof FLAGS]] = String(value);
    else if (flag in BOOLEAN_FLAGS)
      env[BOOLEAN_FLAGS[flag as keyof typeof BOOLEAN_FLAGS]] = value ? 'true' : 'false';
  }
  return { env, help: parsed.values.help === true };
}

export function loadSimConfig(argv: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): SimConfig {
  const flags = flagsToEnv(argv);
  const e = loadConfig(simEnvSchema, { ...env, ...flags.env });
  return Object.freeze({
    kits: e.SIM_KITS,
    vehicles: e.SIM_VEHICLES,
    city: CITIES[e.SIM_CITY],
    intervalS: e.SIM_INTERVAL,
    vehicleIntervalS: e.SIM_VEHICLE_INTERVAL,
    durationS: e.SIM_DURATION,
    seed: e.SIM_SEED,
    apiUrl: (e.API_URL ?? `http://127.0.0.1:${e.API_PORT}`).replace(/\/+$/, ''),
    mqttUrl: mqttUrlOf(e),
    adminToken: e.BOOTSTRAP_ADMIN_TOKEN,
    prefix: e.SIM_PREFIX,
    speedup: e.SIM_SPEEDUP,
    stateFile: e.SIM_STATE_FILE ? fromInvocationDir(e.SIM_STATE_FILE) : join(e.DATA_DIR, 'sim-devices.json'),
    autoTrips: e.SIM_AUTO_TRIPS,
    underground: e.SIM_UNDERGROUND,
    members: e.SIM_MEMBERS,
    logLevel: e.LOG_LEVEL,
    simSecret: { own: e.MQTT_SECRET_SIM, shared: e.MQTT_SERVICE_SECRET },
    dataDir: e.DATA_DIR,
    load: e.SIM_LOAD,
    loadSettings: {
      devices: e.SIM_LOAD_DEVICES,
      connections: e.SIM_LOAD_CONNECTIONS,
      qos: e.SIM_LOAD_QOS as 0 | 1,
      batch: e.SIM_LOAD_BATCH,
      total: e.SIM_LOAD_TOTAL,
      inflight: e.SIM_LOAD_INFLIGHT,
      perDevice: e.SIM_LOAD_PER_DEVICE,
      provision: e.SIM_LOAD_PROVISION,
    },
  });
}

/** A config for tests: the defaults with a few fields changed, no environment read. */
export function simConfig(overrides: Partial<SimConfig> = {}): SimConfig {
  return { ...loadSimConfig([], {}), ...overrides };
}
