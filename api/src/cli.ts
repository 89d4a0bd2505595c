import { parseArgs } from 'node:util';
import { ConfigError, deviceKindSchema, idSchema, loadConfig, sharedEnv } from '@citytel/contract';
import { openStore, type Store, StoreConflictError } from '@citytel/store';
import pino from 'pino';
import { z } from 'zod';
import { resolveFromInvocation } from './config.ts';
import { deviceView, newDeviceSchema, provisionedView } from './device-view.ts';

/**
 * Provisioning for scripts, on the store directly (DATA_DIR / DATABASE_URL), printing JSON:
 *   npm run provision -w api -- device create --id kit-1 --kind native --lat 48.11 --lon -1.68
 *   npm run provision -w api -- device list [--kind native] [--operator citiz-rennes]
 *   npm run provision -w api -- operator create --id citiz-rennes --name "Citiz Rennes" [--admin]
 * Secrets and tokens are printed once, as the api's POST /api/v1/devices does.
 */
const USAGE = `usage:
  device create --id <id> --kind sck|airrohr|native|vehicle [--lat <deg> --lon <deg>] [--mobile [--public-track]] [--indoor]
                [--name <text>] [--operator <operator id>]
  device list [--kind <kind>] [--operator <operator id>]
  device delete|disable|enable|rotate-secret --id <id>
  operator create --id <id> --name <text> [--admin] [--token <token>]
  operator rotate-token|revoke-token --id <id>
  audit list [--target <id>] [--limit <n>]
Revocations are audited with actor "cli"; every broker drops the device within seconds.
environment: DATA_DIR (default .data) or DATABASE_URL`;

class UsageError extends Error {}

const cliEnv = z.object({
  DATA_DIR: sharedEnv.DATA_DIR,
  DATABASE_URL: sharedEnv.DATABASE_URL,
  LOG_LEVEL: sharedEnv.LOG_LEVEL,
});

const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);

function numberFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name}: "${v}" is not a number`);
  return n;
}

/** `--lon -1.68`: node's parseArgs takes `-1.68` for an option; a negative number is a value. */
function joinNegativeValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    if (a.startsWith('--') && !a.includes('=') && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

async function deviceCreate(store: Store, args: string[]) {
  const { values } = parseArgs({
    args: joinNegativeValues(args),
    options: {
      id: { type: 'string' },
      kind: { type: 'string' },
      name: { type: 'string' },
      lat: { type: 'string' },
      lon: { type: 'string' },
      mobile: { type: 'boolean' },
      indoor: { type: 'boolean' },
      'public-track': { type: 'boolean' },
      operator: { type: 'string' },
    },
  });
  const parsed = newDeviceSchema.safeParse({
    id: values.id,
    kind: values.kind,
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.lat !== undefined ? { lat: numberFlag('lat', values.lat) } : {}),
    ...(values.lon !== undefined ? { lon: numberFlag('lon', values.lon) } : {}),
    ...(values.mobile ? { mobile: true } : {}),
    ...(values.indoor ? { indoor: true } : {}),
    ...(values['public-track'] ? { publicTrack: true } : {}),
  });
  if (!parsed.success) {
    throw new UsageError(
      parsed.error.issues.map((i) => `--${i.path.join('.') || 'args'}: ${i.message}`).join('\n'),
    );
  }
  if (values.operator !== undefined && !(await store.operators.get(values.operator))) {
    throw new UsageError(`--operator: no operator ${values.operator}`);
  }
  const d = parsed.data;
  try {
    const created = await store.devices.create({
      id: d.id,
      kind: d.kind,
      operatorId: values.operator ?? null,
      name: d.name ?? null,
      lat: d.lat ?? null,
      lon: d.lon ?? null,
      mobile: d.mobile ?? false,
      indoor: d.indoor ?? false,
      publicTrack: d.publicTrack ?? false,
    });
    print(provisionedView(created));
  } catch (err) {
    if (err instanceof StoreConflictError) throw new UsageError(`--id: device ${d.id} already exists`);
    throw err;
  }
}

async function deviceList(store: Store, args: string[]) {
  const { values } = parseArgs({ args, options: { kind: { type: 'string' }, operator: { type: 'string' } } });
  const kind = values.kind === undefined ? undefined : deviceKindSchema.safeParse(values.kind);
  if (kind && !kind.success) throw new UsageError(`--kind: ${kind.error.issues[0]?.message}`);
  const devices = await store.devices.list({
    ...(kind?.data ? { kind: kind.data } : {}),
    ...(values.operator ? { operatorId: values.operator } : {}),
  });
  print(devices.map(deviceView));
}

async function operatorCreate(store: Store, args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      id: { type: 'string' },
      name: { type: 'string' },
      admin: { type: 'boolean' },
      token: { type: 'string' },
    },
  });
  const id = idSchema.safeParse(values.id);
  if (!id.success)
    throw new UsageError(`--id: ${values.id === undefined ? 'required' : id.error.issues[0]?.message}`);
  if (!values.name?.trim()) throw new UsageError('--name: required');
  if (values.token !== undefined && values.token.length < 16)
    throw new UsageError('--token: at least 16 characters');
  try {
    const { operator, token } = await store.operators.create({
      id: id.data,
      name: values.name.trim(),
      admin: values.admin ?? false,
      ...(values.token !== undefined ? { token: values.token } : {}),
    });
    print({ operator: { ...operator, createdAt: operator.createdAt.toISOString() }, token });
  } catch (err) {
    if (err instanceof StoreConflictError) throw new UsageError(`--id: operator ${id.data} already exists`);
    throw err;
  }
}

function idArg(args: string[]): string {
  const { values } = parseArgs({ args, options: { id: { type: 'string' } } });
  const id = idSchema.safeParse(values.id);
  if (!id.success)
    throw new UsageError(`--id: ${values.id === undefined ? 'required' : id.error.issues[0]?.message}`);
  return id.data;
}

/** A device revoked or restored from the command line, audited as `cli`. */
const deviceAct =
  (action: 'delete' | 'disable' | 'enable' | 'rotate-secret') => async (store: Store, args: string[]) => {
    const id = idArg(args);
    if (!(await store.devices.get(id))) throw new UsageError(`--id: no device ${id}`);
    if (action === 'delete') {
      await store.devices.remove(id);
      await store.audit.add({ actor: 'cli', action: 'device.delete', target: id });
      print({ deleted: id });
    } else if (action === 'rotate-secret') {
      const rotated = await store.devices.rotateCredentials(id);
      await store.audit.add({ actor: 'cli', action: 'device.rotate_secret', target: id });
      print(rotated && provisionedView(rotated));
    } else {
      const device = await store.devices.setDisabled(id, action === 'disable');
      await store.audit.add({ actor: 'cli', action: `device.${action}`, target: id });
      print(device && deviceView(device));
    }
  };

const operatorAct = (action: 'rotate' | 'revoke') => async (store: Store, args: string[]) => {
  const id = idArg(args);
  if (!(await store.operators.get(id))) throw new UsageError(`--id: no operator ${id}`);
  if (action === 'rotate') {
    const rotated = await store.operators.rotateToken(id);
    await store.audit.add({ actor: 'cli', action: 'operator.rotate_token', target: id });
    print({ operator: id, token: rotated?.token });
  } else {
    await store.operators.revokeToken(id);
    await store.audit.add({ actor: 'cli', action: 'operator.revoke_token', target: id });
    print({ operator: id, revoked: true });
  }
};

async function auditList(store: Store, args: string[]) {
  const { values } = parseArgs({ args, options: { target: { type: 'string' }, limit: { type: 'string' } } });
  const limit = numberFlag('limit', values.limit) ?? 100;
  const entries = await store.audit.list({ ...(values.target ? { target: values.target } : {}), limit });
  print(entries.map((e) => ({ ...e, at: e.at.toISOString() })));
}

const COMMANDS: Record<string, (store: Store, args: string[]) => Promise<void>> = {
  'device create': deviceCreate,
  'device list': deviceList,
  'device delete': deviceAct('delete'),
  'device disable': deviceAct('disable'),
  'device enable': deviceAct('enable'),
  'device rotate-secret': deviceAct('rotate-secret'),
  'operator create': operatorCreate,
  'operator rotate-token': operatorAct('rotate'),
  'operator revoke-token': operatorAct('revoke'),
  'audit list': auditList,
};

async function run(argv: string[]): Promise<number> {
  const command = COMMANDS[`${argv[0]} ${argv[1]}`];
  if (!command) {
    console.error(USAGE);
    return argv.length === 0 || argv[0] === '--help' || argv[0] === 'help' ? 0 : 2;
  }
  const env = loadConfig(cliEnv);
  // Logs go to stderr: stdout carries only the JSON answer.
  const log = pino({ level: env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL }, pino.destination(2));
  const store = await openStore({
    dataDir: resolveFromInvocation(env.DATA_DIR),
    databaseUrl: env.DATABASE_URL,
    log,
  });
  try {
    await command(store, argv.slice(2));
    return 0;
  } finally {
    await store.close();
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError || err instanceof ConfigError) console.error(err.message);
    else if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      console.error(`${(err as Error).message}\n${USAGE}`);
    else console.error(err);
    process.exit(2);
  },
);
