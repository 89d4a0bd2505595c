import { createHash, timingSafeEqual } from 'node:crypto';
import { isId, isSckToken, SERVICE_ACCOUNTS, type ServiceAccount } from '@citytel/contract';
import type { Store } from '@citytel/store';
import type { AuthenticateError, Client, ConnectPacket } from 'aedes';
import type { Logger } from 'pino';
import { checkPublish } from './acl.ts';
import type { VerifiedCache } from './auth-cache.ts';
import { settle } from './callback.ts';
import { remoteAddressOf } from './connection.ts';
import { attachIdentity, type Identity } from './identity.ts';
import type { RefusalReason, Refusals } from './refusals.ts';
import type { LoginThrottle } from './throttle.ts';

/**
 * CONNECT authentication (CONTRACT §1):
 * - username = device id, password = its secret (scrypt-checked by the store);
 * - username `svc:*` with the platform's service secret;
 * - the stock Smart Citizen kit: no username, no password, client id = the token of a registered kit.
 * Anything else is refused with CONNACK 4 (bad user name or password) or 5 (not authorized).
 */
export interface AuthDeps {
  devices: Pick<Store['devices'], 'verifySecret' | 'findBySckToken'>;
  serviceSecret: string;
  throttle: LoginThrottle;
  cache: VerifiedCache<Identity>;
  refusals: Refusals;
  log: Logger;
}

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
const CONNACK = {
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserOrPassword: 4,
  notAuthorized: 5,
} as const;

/** Longer client ids are refused: they end up in logs and maps, and no device needs more. */
export const MAX_CLIENT_ID_LENGTH = 128;
/** Secrets the store issues are far shorter; a longer password is wrong without hashing it. */
const MAX_SECRET_LENGTH = 256;

type Outcome = { identity: Identity } | { refused: RefusalReason; code: number; credentials: boolean };

const refusedBy = (refused: RefusalReason, code: number, credentials = true): Outcome => ({
  refused,
  code,
  credentials,
});

export function createAuthentication(deps: AuthDeps) {
  const { devices, throttle, cache, refusals } = deps;
  const serviceSecretHash = sha256(deps.serviceSecret);
  // CONNECT's will, kept from preConnect so authenticate can check it against the identity's rights.
  const wills = new WeakMap<Client, NonNullable<ConnectPacket['will']>>();

  async function identify(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<Outcome> {
    if (username === undefined && password === undefined) {
      // the stock Smart Citizen kit firmware: its token is its client id
      if (!isSckToken(clientId)) return refusedBy('no_credentials', CONNACK.notAuthorized);
      const identity = await cache.resolve(['sck', clientId], async () => {
        const device = await devices.findBySckToken(clientId);
        return device?.kind === 'sck' ? { type: 'sck', id: device.id, token: clientId } : undefined;
      });
      return identity ? { identity } : refusedBy('unknown_sck_token', CONNACK.notAuthorized);
    }
    if (username === undefined || password === undefined || password.length > MAX_SECRET_LENGTH) {
      return refusedBy('bad_credentials', CONNACK.badUserOrPassword);
    }
    const secret = password.toString('utf8');
    if (isServiceAccount(username)) {
      return timingSafeEqual(sha256(secret), serviceSecretHash)
        ? { identity: { type: 'service', account: username } }
        : refusedBy('bad_credentials', CONNACK.badUserOrPassword);
    }
    if (!isId(username)) return refusedBy('bad_credentials', CONNACK.badUserOrPassword);
    const identity = await cache.resolve(['device', username, secret], async () => {
      const device = await devices.verifySecret(username, secret);
      // a Smart Citizen kit logs in by its token, never by a secret
      if (!device || device.kind === 'sck') return undefined;
      return { type: 'device', kind: device.kind, id: device.id };
    });
    return identity ? { identity } : refusedBy('bad_credentials', CONNACK.badUserOrPassword);
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

    if (client.id.length > MAX_CLIENT_ID_LENGTH) refuse('client_id_rejected', CONNACK.identifierRejected);
    const admission = await throttle.admit(remoteAddress);
    if (!admission.go) refuse('throttled', CONNACK.serverUnavailable);
    // gone while it waited: spare the scrypt (Aedes ignores the answer of a closed client)
    if (client.closed) return false;

    let outcome: Outcome;
    try {
      outcome = await identify(client.id, username, password);
    } catch (error) {
      deps.log.error({ err: error, clientId: client.id }, 'credential check failed');
      return refuse('store_unavailable', CONNACK.serverUnavailable, (error as Error).message);
    }
    if ('refused' in outcome) {
      if (outcome.credentials) throttle.failed(remoteAddress);
      return refuse(outcome.refused, outcome.code);
    }
    throttle.succeeded(remoteAddress);

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
