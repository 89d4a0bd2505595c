import { z } from 'zod';

/** CONTRACT §1: device, vehicle, booking and operator ids. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const idSchema = z.string().regex(ID_PATTERN, 'must match [A-Za-z0-9_-]{1,64}');

/** Smart Citizen kit token: 6 lowercase letters or digits, issued by the platform (CONTRACT §1). */
export const SCK_TOKEN_PATTERN = /^[a-z0-9]{6}$/;
export const sckTokenSchema = z.string().regex(SCK_TOKEN_PATTERN, 'must be 6 lowercase letters or digits');

export const DEVICE_KINDS = ['sck', 'airrohr', 'native', 'vehicle'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];
export const deviceKindSchema = z.enum(DEVICE_KINDS);

/**
 * MQTT usernames of the platform's own services. The colon cannot occur in a device id,
 * so a device can never be mistaken for a service account.
 */
export const SERVICE_ACCOUNTS = ['svc:ingest', 'svc:api', 'svc:sim'] as const;
export type ServiceAccount = (typeof SERVICE_ACCOUNTS)[number];

export const isId = (s: string): boolean => ID_PATTERN.test(s);
export const isSckToken = (s: string): boolean => SCK_TOKEN_PATTERN.test(s);

/** Largest MQTT payload the broker accepts (CONTRACT §1). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/**
 * The client-id rule (CONTRACT §1): a client id names the identity that logs in with it, so no
 * connection can displace, or inherit the session of, another identity's client.
 * - a device (native, airrohr, vehicle): its id, or its id + `/` + a suffix of its choosing
 *   (`car-7`, `kit-42/backup`);
 * - a Smart Citizen kit: exactly its token, as the stock firmware sends it;
 * - a service account: its name, or its name + `/` + a suffix (`svc:ingest/main`).
 * `/` can occur in none of ids, tokens and account names, and `:` in no id or token, so the part before
 * the first `/` is the identity, and two identities can never claim the same client id. An empty client
 * id with a clean session gets one made by the broker, which names nobody.
 */
export const CLIENT_ID_SEPARATOR = '/';
/** Longest client id accepted: a 64-character id, the separator and a 63-character suffix. */
export const MAX_CLIENT_ID_LENGTH = 128;

/** The identity name a client id claims (before the separator), and whether it carries a suffix. */
export function clientIdOwner(clientId: string): { owner: string; suffixed: boolean } {
  const at = clientId.indexOf(CLIENT_ID_SEPARATOR);
  return at < 0 ? { owner: clientId, suffixed: false } : { owner: clientId.slice(0, at), suffixed: true };
}

/**
 * Whether `clientId` may be used by the identity named `owner` (a device id, a service account). An SCK
 * kit's client id is its token alone: `mayUseClientId(token, token, false)`.
 */
export function mayUseClientId(clientId: string, owner: string, suffixAllowed = true): boolean {
  if (clientId.length === 0 || clientId.length > MAX_CLIENT_ID_LENGTH) return false;
  const claimed = clientIdOwner(clientId);
  if (claimed.owner !== owner) return false;
  if (!claimed.suffixed) return true;
  // a suffix of printable characters, not empty: `kit-1/` names nothing
  return suffixAllowed && /^[\x21-\x7e]+$/.test(clientId.slice(owner.length + 1));
}

/**
 * A client id a device's own firmware may send although it is not the device's own form (firmware written
 * before the rule): it claims nobody by its form — no separator, no service's `svc:`, not an SCK token's
 * six characters, no `citytel…` name of the platform's — so the broker may keep it apart under `{id}/{it}`. Whether it is a registered device's
 * id is the broker's question (it asks the store).
 */
export function isLegacyClientId(clientId: string): boolean {
  return (
    clientId.length > 0 &&
    clientId.length <= MAX_CLIENT_ID_LENGTH &&
    !clientId.includes(CLIENT_ID_SEPARATOR) &&
    !clientId.includes(':') &&
    !isSckToken(clientId) &&
    // the platform's own names before the rule (`citytel-ingest-main`) stay reserved
    !clientId.toLowerCase().startsWith('citytel') &&
    /^[\x21-\x7e]+$/.test(clientId)
  );
}

/** The client id a service process connects with: `svc:ingest/main`, `svc:api/host-1234`. */
export const serviceClientId = (account: ServiceAccount, suffix: string): string =>
  `${account}${CLIENT_ID_SEPARATOR}${suffix.replace(/[^\x21-\x7e]/g, '-').slice(0, 100)}`;

/** Environment variable holding one service account's MQTT password (`svc:ingest` → MQTT_SECRET_INGEST). */
export const serviceSecretVar = (account: ServiceAccount): string =>
  `MQTT_SECRET_${account.slice('svc:'.length).toUpperCase()}`;
