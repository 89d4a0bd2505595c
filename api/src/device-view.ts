import { DEVICE_KINDS, deviceKindSchema, idSchema, positionProblem } from '@citytel/contract';
import type { Device, ProvisionedDevice } from '@citytel/store';
import { z } from 'zod';

/** A device as its operator sees it (registry record; never its secret). */
export const deviceSchema = z
  .object({
    id: z.string(),
    kind: z.enum(DEVICE_KINDS),
    operatorId: z.string().nullable(),
    name: z.string().nullable(),
    lat: z.number().nullable(),
    lon: z.number().nullable(),
    mobile: z.boolean(),
    indoor: z.boolean(),
    publicTrack: z.boolean().describe('a mobile kit whose exact track is public (opted in by its owner)'),
    createdAt: z.iso.datetime(),
    lastSeenAt: z.iso.datetime().nullable(),
    firmware: z.string().nullable(),
    disabled: z.boolean().describe('disabled by its operator: every login refused'),
  })
  .meta({ id: 'Device', description: 'A registered device, as its operator sees it' });
export type DeviceView = z.infer<typeof deviceSchema>;

/** The answer to provisioning: the device and, this once, its secret (or SCK token). */
export const provisionedDeviceSchema = deviceSchema
  .extend({
    secret: z
      .string()
      .optional()
      .describe('MQTT and Basic-auth password (native, airrohr, vehicle); shown only in this answer'),
    token: z
      .string()
      .optional()
      .describe('Smart Citizen kit token, its MQTT client id and topic segment; shown only in this answer'),
  })
  .meta({ id: 'ProvisionedDevice', description: 'A device just registered, with its credential shown once' });
export type ProvisionedDeviceView = z.infer<typeof provisionedDeviceSchema>;

export const deviceView = (d: Device): DeviceView => ({
  id: d.id,
  kind: d.kind,
  operatorId: d.operatorId,
  name: d.name,
  lat: d.lat,
  lon: d.lon,
  mobile: d.mobile,
  indoor: d.indoor,
  publicTrack: d.publicTrack,
  createdAt: d.createdAt.toISOString(),
  lastSeenAt: d.lastSeenAt ? d.lastSeenAt.toISOString() : null,
  firmware: d.firmware,
  disabled: d.disabled ?? false,
});

export const provisionedView = (p: ProvisionedDevice): ProvisionedDeviceView => ({
  ...deviceView(p.device),
  ...(p.secret !== undefined ? { secret: p.secret } : {}),
  ...(p.token !== undefined ? { token: p.token } : {}),
});

/**
 * Where a new device must be: a fixed kit (not mobile, not a vehicle) needs its registered position, since
 * its readings carry none (CONTRACT §2.1); any position given must be a real one. Returns the problem and
 * the field it concerns, for the api's 400 and the CLI alike.
 */
export function newDevicePositionProblem(d: {
  kind: string;
  lat?: number | null | undefined;
  lon?: number | null | undefined;
  mobile?: boolean | undefined;
}): { field: 'lat' | 'lon'; message: string } | undefined {
  const hasLat = d.lat !== undefined && d.lat !== null;
  const hasLon = d.lon !== undefined && d.lon !== null;
  if (!hasLat && !hasLon) {
    if (d.kind === 'vehicle' || d.mobile) return undefined;
    return {
      field: 'lat',
      message: 'lat and lon are required for a fixed kit (set mobile for a kit that moves)',
    };
  }
  if (!hasLat) return { field: 'lat', message: 'lat is required with lon' };
  if (!hasLon) return { field: 'lon', message: 'lon is required with lat' };
  const problem = positionProblem(d.lat, d.lon);
  if (!problem) return undefined;
  return { field: problem.startsWith('lon') ? 'lon' : 'lat', message: problem };
}

export const newDeviceSchema = z
  .strictObject({
    id: idSchema.describe('device id, also its MQTT username'),
    kind: deviceKindSchema.describe('sck: Smart Citizen kit; airrohr: sensor.community; native; vehicle'),
    name: z.string().trim().min(1).max(200).optional(),
    lat: z.number().min(-90).max(90).optional().describe('registered position; required for a fixed kit'),
    lon: z.number().min(-180).max(180).optional(),
    mobile: z.boolean().optional().describe('a kit that moves: every reading carries its position'),
    indoor: z.boolean().optional().describe('its exact position is never served publicly'),
    publicTrack: z
      .boolean()
      .optional()
      .describe(
        "a mobile kit's owner opts in to its exact track being public; without it every public answer " +
          'places its readings at the centre of their ~150 m cell. Never for a vehicle.',
      ),
  })
  .superRefine((d, ctx) => {
    if (d.publicTrack && (d.kind === 'vehicle' || !d.mobile || d.indoor)) {
      ctx.addIssue({
        code: 'custom',
        path: ['publicTrack'],
        message: 'only a mobile, outdoor citizen kit may have a public track (never a vehicle)',
      });
    }
    const problem = newDevicePositionProblem(d);
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
  })
  .meta({ id: 'NewDevice', description: 'A device to register (CONTRACT §5)' });
export type NewDeviceInput = z.infer<typeof newDeviceSchema>;
