import { optionalString } from '@citytel/contract';
import { z } from 'zod';

/** GBFS variables of the api's environment, spread into apiEnvSchema. */
export const gbfsEnv = {
  GBFS_PUBLIC_URL: optionalString
    .pipe(z.url({ protocol: /^https?$/ }).optional())
    .describe(
      'public base URL of the api (https://data.example.org) for the absolute URLs GBFS requires; unset: taken ' +
        'from each request (behind a proxy set TRUST_PROXY so the scheme is right)',
    ),
  GBFS_NETWORK_ID: z
    .string()
    .regex(/^[a-z0-9_-]{1,64}$/)
    .default('citytel')
    .describe('system_id of the whole network in /gbfs/gbfs.json; each operator is `{this}_{operator}`'),
  GBFS_NETWORK_NAME: z.string().min(1).default('citytel carsharing').describe('public name of the network'),
  GBFS_FEED_EMAIL: z
    .email()
    .default('gbfs@example.org')
    .describe('feed_contact_email: where feed consumers report problems (GBFS requires one)'),
  GBFS_TIMEZONE: z.string().min(1).default('Europe/Paris').describe('IANA time zone of the network'),
  GBFS_LANGUAGE: z
    .string()
    .regex(/^[a-z]{2,3}(-[A-Z]{2})?$/)
    .default('fr')
    .describe('language of the names in the feeds (BCP 47)'),
  GBFS_OPENING_HOURS: z.string().min(1).default('24/7').describe('OSM opening_hours of the service'),
  GBFS_REALTIME_TTL_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(300)
    .default(30)
    .describe('ttl (and Cache-Control max-age) of station_status and vehicle_status'),
  GBFS_STATIC_TTL_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(300)
    .describe('ttl (and max-age) of the other feeds: system, vehicle types, stations, pricing'),
  GBFS_AVAILABLE_HORIZON_H: z.coerce
    .number()
    .int()
    .min(1)
    .max(720)
    .default(168)
    .describe('how far ahead the next booking of a free car is looked for (available_until)'),
};
