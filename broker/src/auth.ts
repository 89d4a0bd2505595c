import { createHash, timingSafeEqual } from 'node:crypto';
import {
  CLIENT_ID_SEPARATOR,
  isId,
  isLegacyClientId,
  isSckToken,
  MAX_CLIENT_ID_LENGTH,
  mayUseClientId,
  SERVICE_ACCOUNTS,
  type ServiceAccount,
} from '@citytel/contract';
import type { Store } from '@citytel/store';
import type { AuthenticateError, Client, ConnectPacket } from 'aedes';
import type { Logger } from 'pino';
import { checkPublish } from './acl.ts';
import type { VerifiedCache } from './auth-cache.ts';
import { settle } from './callback.ts';
import { remoteAddressOf } from './connection.ts';
import type { ConnectionRegistry } from './connections.ts';
import { attachIdentity, type Identity } from './identity.ts';
import type { RefusalReason, Refusals } from './refusals.ts';
import { type Attempt, type LoginThrottle, throttleBucket } from './throttle.ts';

export { MAX_CLIENT_ID_LENGTH };

/**
 * CONNECT authentication (CONTRACT §1):
 * - username = device id, password = its secret (scrypt-checked by the store);
 * - username `svc:*` with that service account's own secret (`svc:sim` only when enabled);
 * - the stock Smart Citizen kit: no username, no password, client id = the token of a registered kit.
 * The client id must be the identity's own (contract's `mayUseClientId`): another device's, a kit's token
 * or a service's is refused with CONNACK 2 before any secret is hashed, so no connection can displace or
 * inherit another identity's session. Anything else is refused with CONNACK 4 (bad user name or password)
 * or 5 (not authorized); too many attempts from one address with 3 (server unavailable).
 */
export interface AuthDeps {
  devices: Pick<Store['devices'], 'verifySecret' | 'findBySckToken' | 'loginTag'>;
  serviceSecrets: Readonly<Record<ServiceAccount, string>>;
  /** svc:sim may publish any kit's readings and any car's status: refused unless a demo enables it. */
  allowSim: boolean;
  throttle: LoginThrottle;
  cache: VerifiedCache<Verified>;
  connections: ConnectionRegistry;
  refusals: Refusals;
  log: Logger;
}

/** A cached login: the identity, and the tag of the credential it was verified against (store's loginTag). */
export interface Verified {
  identity: Identity;
  tag: string;
}

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
const CONNACK = {
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserOrPassword: 4,
  notAuthorized: 5,
} as const;

/**
 * Secret logins of one address that may be checked at once before the ones beyond count against it: a
 * gateway, a NAT or a reconnect storm brings many good devices through one address, and a 190-bit secret
 * cannot be guessed; this only bounds the hashing one address can ask for. Token logins get none.
 */
const SECRET_LOGINS_IN_FLIGHT = 256;

/** Secrets the store issues are far shorter; a longer password is wrong without hashing it. */
const MAX_SECRET_LENGTH = 256;

type Outcome = { identity: Identity } | { refused: RefusalReason; code: number; credentials: boolean };

const refusedBy = (refused: RefusalReason, code: number, credentials = true): Outcome => ({
  refused,
  code,
  credentials,
});

export function createAuthentication(deps: AuthDeps) {
  const { devices, throttle, cache, refusals, connections } = deps;
  const serviceHashes = new Map(
    SERVICE_ACCOUNTS.map((account) => [account, sha256(deps.serviceSecrets[account])] as const),
  );
  // CONNECT's will, kept from preConnect so authenticate can check it against the identity's rights.
  const wills = new WeakMap<Client, NonNullable<ConnectPacket['will']>>();
  // Clients that sent an empty client id (Aedes then made one up: it names nobody).
  const assignedIds = new WeakSet<Client>();

  /** A cached login still valid: the device's credential is the one it was verified against. */
  async function cached(parts: string[]): Promise<Identity | undefined> {
    const hit = cache.peek(parts);
    if (!hit || hit.identity.type === 'service') return undefined;
    if ((await devices.loginTag(hit.identity.id)) === hit.tag) return hit.identity;
    cache.forget(parts);
    return undefined;
  }

  /** The identity of these credentials: a still-valid cached login, else the store's (slow) check. */
  async function load(parts: string[], find: () => Promise<Verified | undefined>) {
    return (await cached(parts)) ?? (await cache.resolve(parts, find))?.identity;
  }

  async function identify(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<Outcome> {
    if (username === undefined && password === undefined) {
      // the stock Smart Citizen kit firmware: its token is its client id
      if (!isSckToken(clientId)) return refusedBy('no_credentials', CONNACK.notAuthorized, false);
      const identity = await load(['sck', clientId], async () => {
        const device = await devices.findBySckToken(clientId);
        if (device?.kind !== 'sck') return undefined;
        const tag = await devices.loginTag(device.id);
        return tag ? { identity: { type: 'sck', id: device.id, token: clientId }, tag } : undefined;
      });
      return identity ? { identity } : refusedBy('unknown_sck_token', CONNACK.notAuthorized);
    }
    if (username === undefined || password === undefined || password.length > MAX_SECRET_LENGTH) {
      return refusedBy('bad_credentials', CONNACK.badUserOrPassword);
    }
    const secret = password.toString('utf8');
    if (isServiceAccount(username)) {
      if (username === 'svc:sim' && !deps.allowSim)
        return refusedBy('service_disabled', CONNACK.notAuthorized, false);
      return timingSafeEqual(sha256(secret), serviceHashes.get(username)!)
        ? { identity: { type: 'service', account: username } }
        : refusedBy('bad_credentials', CONNACK.badUserOrPassword);
    }
    if (!isId(username)) return refusedBy('bad_credentials', CONNACK.badUserOrPassword);
    const identity = await load(['device', username, secret], async () => {
      const device = await devices.verifySecret(username, secret);
      // a Smart Citizen kit logs in by its token, never by a secret
      if (!device || device.kind === 'sck') return undefined;
      const tag = await devices.loginTag(device.id);
      return tag ? { identity: { type: 'device', kind: device.kind, id: device.id }, tag } : undefined;
    });
    return identity ? { identity } : refusedBy('bad_credentials', CONNACK.badUserOrPassword);
  }

  /** The client id names the identity the credentials claim (checked before they are: it costs nothing). */
  function clientIdAllowed(client: Client, username: string | undefined): boolean {
    if (assignedIds.has(client)) return true;
    // no username: a kit's token (checked by identify), or no credentials at all (refused there)
    if (username === undefined) return true;
    if (mayUseClientId(client.id, username)) return true;
    // A device's firmware may send a name of its own (legacy); one that claims another identity by its
    // form (a service's, a kit token's, another id's `id/...`) is refused here, before any hashing.
    return isId(username) && isLegacyClientId(client.id);
  }

  /**
   * A device whose firmware sends a client id that is not its own (`mqttjs_3f…`, `ESP8266Client-1a2b`:
   * home-made kits written before the client-id rule) keeps working: its session is kept under
   * `{id}/{that name}`, which only this device can reach, so it can neither displace nor inherit another
   * identity's session. A name that is a registered device's id is refused: a device using it is either
   * misconfigured or trying to pass for that device.
   */
  async function settleClientId(client: Client, identity: Identity): Promise<boolean> {
    if (identity.type !== 'device' || assignedIds.has(client) || mayUseClientId(client.id, identity.id))
      return true;
    if ((await devices.loginTag(client.id)) !== undefined) return false;
    client.id = `${identity.id}${CLIENT_ID_SEPARATOR}${client.id}`;
    return true;
  }

  async function login(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<boolean> {
    const remoteAddress = remoteAddressOf(client);
    const refuse = (reason: RefusalReason, code: number, detail?: string): never => {
      refusals.refuse(reason, { clientId: client.id, username, remoteAddress, detail });
      throw Object.assign(new Error(reason), { returnCode: code }) as AuthenticateError;
    };

    if (client.id.length > MAX_CLIENT_ID_LENGTH || !clientIdAllowed(client, username))
      refuse('client_id_rejected', CONNACK.identifierRejected);

    // A device presenting a secret this broker verified lately skips the queue: nothing is being guessed
    // (the secret is good), and a NAT shared with a guesser must not keep good devices out. Not for SCK
    // tokens: a cache answer there would be a free oracle for guesses.
    const secretLogin = username !== undefined || password !== undefined;
    let known: Identity | undefined;
    if (secretLogin && username !== undefined && password !== undefined && isId(username)) {
      known = await cached(['device', username, password.toString('utf8')]).catch(() => undefined);
    }
    let attempt: Attempt | undefined;
    let outcome: Outcome;
    if (known) {
      outcome = { identity: known };
    } else {
      attempt = secretLogin
        ? await throttle.admit(throttleBucket('secret', remoteAddress), SECRET_LOGINS_IN_FLIGHT)
        : await throttle.admit(throttleBucket('token', remoteAddress));
      if (!attempt) return refuse('throttled', CONNACK.serverUnavailable);
      // gone while it waited: spare the scrypt (Aedes ignores the answer of a closed client)
      if (client.closed) {
        attempt.end('abandoned');
        return false;
      }
      try {
        outcome = await identify(client.id, username, password);
      } catch (error) {
        attempt.end('abandoned');
        deps.log.error({ err: error }, 'credential check failed');
        return refuse('store_unavailable', CONNACK.serverUnavailable, (error as Error).message);
      }
      if ('refused' in outcome) {
        attempt.end(outcome.credentials ? 'failed' : 'abandoned');
        return refuse(outcome.refused, outcome.code);
      }
      attempt.end('succeeded');
    }

    // Aedes checks a will only when it publishes it, after the client is gone: check it now, while the
    // device can still be told.
    const will = wills.get(client);
    if (will) {
      const verdict = checkPublish(outcome.identity, {
        topic: will.topic,
        payloadBytes: will.payload ? Buffer.byteLength(will.payload) : 0,
        retain: will.retain ?? false,
      });
      if (!verdict.ok) refuse('will_denied', CONNACK.notAuthorized, `${verdict.reason}: ${will.topic}`);
    }
    if (!(await settleClientId(client, outcome.identity)))
      refuse('client_id_rejected', CONNACK.identifierRejected, 'the client id of another device');
    if (!connections.admit(client, outcome.identity)) refuse('too_many_connections', CONNACK.notAuthorized);
    attachIdentity(client, outcome.identity);
    return true;
  }

  return {
    preConnect(
      client: Client,
      packet: ConnectPacket,
      done: (error: Error | null, success: boolean) => void,
    ): void {
      if (packet.will) wills.set(client, packet.will);
      // [MQTT-3.1.3-8]: an empty client id needs a clean session; Aedes refuses it otherwise
      if (!packet.clientId && packet.clean) assignedIds.add(client);
      done(null, true);
    },
    authenticate(
      client: Client,
      username: Readonly<string | undefined>,
      password: Readonly<Buffer | undefined>,
      done: (error: AuthenticateError | null, success: boolean | null) => void,
    ): void {
      settle(
        () => login(client, username, password),
        (error, ok) => done(error as AuthenticateError | null, ok ?? null),
      );
    },
  };
}

const isServiceAccount = (name: string): name is ServiceAccount =>
  (SERVICE_ACCOUNTS as readonly string[]).includes(name);

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();
