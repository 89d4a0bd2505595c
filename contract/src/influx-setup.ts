/**
 * Makes the InfluxDB database (1.x), bucket (2.x) or database (3.x) that ingest writes to and the api reads,
 * when it is missing and the credentials may — as Telegraf does — so a user's own InfluxDB works with a new
 * INFLUX_DB at once. Shared by ingest and the api, so both say the same thing when they cannot.
 *
 * - 1.x (no token): `CREATE DATABASE`, idempotent; a non-admin user is refused ("requires admin privilege").
 * - 2.x (token and org): the bucket through /api/v2/buckets, when the token has write access to buckets.
 * - 3.x (token, no org): the database through /api/v3/configure/database.
 * The messages name the variables and the command to run, never the server's address: the api's /readyz
 * shows them to anyone.
 */
export interface InfluxTarget {
  url: string;
  db: string;
  token?: string | undefined;
  org?: string | undefined;
  bucket?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
}

/** The INFLUX_* variables ingest and the api both read (CONTRACT §5). */
export interface InfluxEnv {
  INFLUX_URL: string;
  INFLUX_DB: string;
  INFLUX_TOKEN?: string | undefined;
  INFLUX_ORG?: string | undefined;
  INFLUX_BUCKET?: string | undefined;
  INFLUX_USERNAME?: string | undefined;
  INFLUX_PASSWORD?: string | undefined;
}

/** The InfluxDB a process's INFLUX_* variables name; `url` when the caller has normalised it. */
export const influxTarget = (env: InfluxEnv, url = env.INFLUX_URL): InfluxTarget => ({
  url,
  db: env.INFLUX_DB,
  token: env.INFLUX_TOKEN,
  org: env.INFLUX_ORG,
  bucket: env.INFLUX_BUCKET,
  username: env.INFLUX_USERNAME,
  password: env.INFLUX_PASSWORD,
});

export type InfluxSetup =
  | { state: 'ready'; created: boolean }
  /** Not reachable or not answering: try again later; nothing is known about the database. */
  | { state: 'unreachable'; message: string }
  /** It is missing and these credentials may not make it: an operator must (the message says how). */
  | { state: 'refused'; message: string };

const TIMEOUT_MS = 5000;

class Unreachable extends Error {}

async function call(url: string, init: RequestInit): Promise<{ status: number; text: string }> {
  let r: Response;
  try {
    r = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new Unreachable(`InfluxDB unreachable: ${e.cause?.code ?? e.message}`);
  }
  const text = await r.text().catch(() => '');
  if (r.status >= 500) throw new Unreachable(`InfluxDB answered ${r.status}: ${text.slice(0, 200)}`);
  return { status: r.status, text };
}

const quoteIdent = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export async function ensureInfluxDatabase(t: InfluxTarget): Promise<InfluxSetup> {
  const url = t.url.replace(/\/+$/, '');
  try {
    if (!t.token) return await ensureV1(url, t);
    if (t.org) return await ensureV2(url, t);
    return await ensureV3(url, t);
  } catch (err) {
    if (err instanceof Unreachable) return { state: 'unreachable', message: err.message };
    throw err;
  }
}

async function ensureV1(url: string, t: InfluxTarget): Promise<InfluxSetup> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/x-www-form-urlencoded',
  };
  if (t.username)
    headers.Authorization = `Basic ${Buffer.from(`${t.username}:${t.password ?? ''}`).toString('base64')}`;
  const q = async (statement: string) => {
    const r = await call(`${url}/query`, {
      method: 'POST',
      headers,
      body: new URLSearchParams({ q: statement }),
    });
    let error: string | undefined;
    try {
      const body = JSON.parse(r.text) as { error?: string; results?: Array<{ error?: string }> };
      error = body.error ?? body.results?.find((x) => x.error)?.error;
    } catch {
      error = r.text.slice(0, 200);
    }
    return { status: r.status, error, text: r.text };
  };
  const shown = await q('SHOW DATABASES');
  if (shown.status === 401)
    return {
      state: 'refused',
      message:
        `InfluxDB refused the credentials (${shown.error ?? '401'}): set INFLUX_USERNAME and ` +
        'INFLUX_PASSWORD to a user of that InfluxDB',
    };
  if (!shown.error && shown.text.includes(`[${JSON.stringify(t.db)}]`))
    return { state: 'ready', created: false };
  const made = await q(`CREATE DATABASE ${quoteIdent(t.db)}`);
  if (made.status < 300 && !made.error) return { state: 'ready', created: true };
  return {
    state: 'refused',
    message:
      `InfluxDB database "${t.db}" (INFLUX_DB) does not exist and ` +
      `${t.username ? `user "${t.username}" (INFLUX_USERNAME)` : 'these credentials'} may not create it ` +
      `(${made.error ?? made.status}). Create it as an InfluxDB admin: ` +
      `influx -execute 'CREATE DATABASE ${quoteIdent(t.db)}'` +
      `${t.username ? ` and grant it: GRANT ALL ON ${quoteIdent(t.db)} TO ${quoteIdent(t.username)}` : ''}, ` +
      'or set INFLUX_USERNAME to an admin user',
  };
}

async function ensureV2(url: string, t: InfluxTarget): Promise<InfluxSetup> {
  const bucket = t.bucket ?? t.db;
  const headers = { Authorization: `Token ${t.token}`, 'Content-Type': 'application/json' };
  const howTo = `influx bucket create --name ${bucket} --org ${t.org}`;
  const listed = await call(`${url}/api/v2/buckets?${new URLSearchParams({ name: bucket, org: t.org! })}`, {
    headers,
  });
  if (listed.status === 401)
    return { state: 'refused', message: 'InfluxDB refused INFLUX_TOKEN (401): check the token' };
  if (listed.status === 200) {
    const body = JSON.parse(listed.text) as { buckets?: Array<{ name: string }> };
    if (body.buckets?.some((b) => b.name === bucket)) return { state: 'ready', created: false };
  }
  const orgs = await call(`${url}/api/v2/orgs?${new URLSearchParams({ org: t.org! })}`, { headers });
  const orgID =
    orgs.status === 200
      ? (JSON.parse(orgs.text) as { orgs?: Array<{ id: string; name: string }> }).orgs?.find(
          (o) => o.name === t.org,
        )?.id
      : undefined;
  if (!orgID)
    return {
      state: 'refused',
      message: `InfluxDB organisation "${t.org}" (INFLUX_ORG) is not visible to INFLUX_TOKEN (${orgs.status}): check both`,
    };
  const made = await call(`${url}/api/v2/buckets`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ orgID, name: bucket, retentionRules: [] }),
  });
  if (made.status === 201) return { state: 'ready', created: true };
  if (made.status === 422 || made.status === 409) return { state: 'ready', created: false };
  return {
    state: 'refused',
    message:
      `InfluxDB bucket "${bucket}" (INFLUX_BUCKET) does not exist and INFLUX_TOKEN may not create ` +
      `it (${made.status} ${made.text.slice(0, 120)}). Create it: ${howTo}, or give the token write access to buckets`,
  };
}

async function ensureV3(url: string, t: InfluxTarget): Promise<InfluxSetup> {
  const database = t.bucket ?? t.db;
  const headers = { Authorization: `Token ${t.token}`, 'Content-Type': 'application/json' };
  const listed = await call(`${url}/api/v3/configure/database?format=json`, { headers });
  if (listed.status === 200) {
    const rows = JSON.parse(listed.text || '[]') as Array<Record<string, string>>;
    if (rows.some((r) => Object.values(r).includes(database))) return { state: 'ready', created: false };
  }
  const made = await call(`${url}/api/v3/configure/database`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ db: database }),
  });
  if (made.status < 300) return { state: 'ready', created: true };
  if (made.status === 409) return { state: 'ready', created: false };
  return {
    state: 'refused',
    message:
      `InfluxDB 3 database "${database}" (INFLUX_BUCKET) does not exist and INFLUX_TOKEN may not ` +
      `create it (${made.status} ${made.text.slice(0, 120)}). Create it: influxdb3 create database ${database}`,
  };
}
