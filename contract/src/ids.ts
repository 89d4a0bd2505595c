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
