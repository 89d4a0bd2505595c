import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DeviceKind } from '@citytel/contract';
import type { Logger } from 'pino';
import { z } from 'zod';

/**
 * Devices the simulator registers through the api (CONTRACT §5), and their secrets kept in a state
 * file (mode 0600) so a restart logs in with the same ones. The api shows a secret once: a device in the
 * registry whose secret we lost, or whose login is refused, is registered again under a suffixed id
 * (`sim-sck-003-r2`), as a person re-flashing a kit would do.
 */

export interface DeviceRequest {
  id: string;
  kind: DeviceKind;
  name?: string;
  lat?: number;
  lon?: number;
  mobile?: boolean;
  indoor?: boolean;
}

export interface Credentials {
  /** Id registered with the platform (the planned id, or a suffixed one). */
  id: string;
  kind: DeviceKind;
  secret?: string;
  /** Smart Citizen kits: their 6-character token. */
  token?: string;
}

const credentialsSchema = z.object({
  id: z.string(),
  kind: z.enum(['sck', 'airrohr', 'native', 'vehicle']),
  secret: z.string().optional(),
  token: z.string().optional(),
  createdAt: z.string().optional(),
});
const stateSchema = z.object({
  version: z.literal(1),
  apiUrl: z.string().optional(),
  /** By planned id. */
  devices: z.record(z.string(), credentialsSchema),
});
type State = z.infer<typeof stateSchema>;

export class ProvisionError extends Error {
  override name = 'ProvisionError';
  constructor(
    readonly code:
      | 'no_admin_token'
      | 'api_unreachable'
      | 'api_refused'
      | 'bad_state_file'
      | 'too_many_retries',
    message: string,
  ) {
    super(message);
  }
}

export interface ProvisionerOptions {
  apiUrl: string;
  adminToken: string | undefined;
  stateFile: string;
  /** How long to wait for an api that is not up yet (default 60 s). */
  waitForApiMs?: number;
}

export interface Provisioner {
  /** Credentials for a planned device: from the state file, or registered now. */
  ensure(req: DeviceRequest): Promise<Credentials>;
  /** Registers the device again under the next suffix, after its login was refused. */
  recreate(req: DeviceRequest, reason: string): Promise<Credentials>;
  /** What the state file holds now (planned id → credentials). */
  known(): ReadonlyMap<string, Credentials>;
}

/** `sim-sck-003` → `sim-sck-003-r2` → `sim-sck-003-r3` … */
export function nextSuffixedId(plannedId: string, currentId: string): string {
  const m = currentId.startsWith(plannedId) ? /^-r(\d+)$/.exec(currentId.slice(plannedId.length)) : null;
  const n = m ? Number(m[1]) + 1 : 2;
  return `${plannedId}-r${n}`;
}

const MAX_SUFFIX = 20;

export async function readState(file: string): Promise<State> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, devices: {} };
    throw e;
  }
  const parsed = stateSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new ProvisionError('bad_state_file', `${file}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export async function createProvisioner(
  opts: ProvisionerOptions,
  deps: { log: Logger; fetch?: typeof fetch },
): Promise<Provisioner> {
  const log = deps.log.child({ component: 'provision' });
  const doFetch = deps.fetch ?? fetch;
  const state = await readState(opts.stateFile);
  if (state.apiUrl && state.apiUrl !== opts.apiUrl) {
    log.warn(
      { stateFile: opts.stateFile, was: state.apiUrl, now: opts.apiUrl },
      'state file was made for another api',
    );
  }
  state.apiUrl = opts.apiUrl;
  let writing: Promise<void> = Promise.resolve();

  // Writes are chained so two saves never interleave; the rename makes each one atomic.
  const save = () => {
    writing = writing.then(async () => {
      await mkdir(dirname(opts.stateFile), { recursive: true });
      const tmp = `${opts.stateFile}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, opts.stateFile);
      await chmod(opts.stateFile, 0o600);
    });
    return writing;
  };

  /**
   * One POST, retried while the api is not up yet or busy: `npm start` launches every process at once,
   * and the simulator may be first.
   */
  async function post(id: string, req: DeviceRequest): Promise<Response> {
    const deadline = Date.now() + (opts.waitForApiMs ?? 60_000);
    for (let attempt = 0; ; attempt++) {
      let problem: string;
      try {
        const res = await doFetch(`${opts.apiUrl}/api/v1/devices`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.adminToken}` },
          body: JSON.stringify({ ...req, id }),
          signal: AbortSignal.timeout(15_000),
        });
        if (res.status !== 502 && res.status !== 503 && res.status !== 504) return res;
        problem = `answered ${res.status}`;
      } catch (e) {
        problem = (e as Error).message;
      }
      if (Date.now() > deadline)
        throw new ProvisionError('api_unreachable', `api at ${opts.apiUrl}: ${problem}`);
      if (attempt === 0) log.info({ api: opts.apiUrl, problem }, 'waiting for the api');
      await new Promise((r) => setTimeout(r, Math.min(5000, 500 * 2 ** attempt)));
    }
  }

  /** POSTs one device; `undefined` when the id is taken. */
  async function register(req: DeviceRequest, id: string): Promise<Credentials | undefined> {
    if (!opts.adminToken) {
      throw new ProvisionError(
        'no_admin_token',
        `device ${req.id} is not in ${opts.stateFile} and no operator token was given (--admin-token or BOOTSTRAP_ADMIN_TOKEN)`,
      );
    }
    const res = await post(id, req);
    const body = (await res.json().catch(() => ({}))) as {
      device?: { id?: string };
      secret?: string;
      token?: string;
      error?: { code?: string; message?: string };
    };
    if (res.status === 409 && body.error?.code === 'device_exists') return undefined;
    if (res.status !== 201 && res.status !== 200) {
      throw new ProvisionError(
        'api_refused',
        `POST /api/v1/devices ${id}: ${res.status} ${body.error?.code ?? ''} ${body.error?.message ?? ''}`.trim(),
      );
    }
    const creds: Credentials = { id: body.device?.id ?? id, kind: req.kind };
    if (body.secret) creds.secret = body.secret;
    if (body.token) creds.token = body.token;
    if (req.kind === 'sck' ? !creds.token : !creds.secret) {
      throw new ProvisionError(
        'api_refused',
        `POST /api/v1/devices ${id}: no ${req.kind === 'sck' ? 'token' : 'secret'} in the answer`,
      );
    }
    return creds;
  }

  async function registerFrom(req: DeviceRequest, startId: string): Promise<Credentials> {
    let id = startId;
    for (let i = 0; i < MAX_SUFFIX; i++) {
      const creds = await register(req, id);
      if (creds) {
        state.devices[req.id] = { ...creds, createdAt: new Date().toISOString() };
        await save();
        if (id !== req.id) log.info({ planned: req.id, id }, 'device registered under a suffixed id');
        return creds;
      }
      // Taken, and its secret is not ours: the api never shows it again.
      id = nextSuffixedId(req.id, id);
    }
    throw new ProvisionError('too_many_retries', `device ${req.id}: ids up to ${id} are all taken`);
  }

  return {
    async ensure(req) {
      const known = state.devices[req.id];
      if (known && known.kind === req.kind) return known;
      return registerFrom(req, req.id);
    },
    async recreate(req, reason) {
      const current = state.devices[req.id]?.id ?? req.id;
      log.warn({ planned: req.id, id: current, reason }, 'login refused, registering the device again');
      return registerFrom(req, nextSuffixedId(req.id, current));
    },
    known: () => new Map(Object.entries(state.devices)),
  };
}
