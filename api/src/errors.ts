import { z } from 'zod';

/**
 * Every error the api answers, in one registry (conventions: errors, after Fastify's own registry): a stable code, its
 * HTTP status and a default message. Clients branch on the code, never on the message. The OpenAPI document
 * lists them all (components.schemas.Error), and a test checks that it does.
 */
export const ERRORS = {
  bad_request: { status: 400, message: 'The request is malformed' },
  invalid_parameter: { status: 400, message: 'A parameter is invalid' },
  unauthorized: { status: 401, message: 'Missing or invalid credentials' },
  forbidden: { status: 403, message: 'Not allowed for these credentials' },
  not_found: { status: 404, message: 'No such resource' },
  device_not_found: { status: 404, message: 'No such device' },
  method_not_allowed: { status: 405, message: 'Method not allowed on this resource' },
  not_acceptable: { status: 406, message: 'Cannot answer in an acceptable format' },
  conflict: { status: 409, message: 'The request conflicts with the current state' },
  device_exists: { status: 409, message: 'A device with this id already exists' },
  payload_too_large: { status: 413, message: 'The request body is too large' },
  unsupported_media_type: { status: 415, message: 'Unsupported content type' },
  rate_limited: { status: 429, message: 'Too many requests' },
  result_too_large: { status: 413, message: 'The answer would read more rows than one request may' },
  internal: { status: 500, message: 'Internal error' },
  mqtt_unavailable: { status: 503, message: 'The message broker is unavailable; retry later' },
  unavailable: { status: 503, message: 'A backing service is unavailable; retry later' },
  // Carsharing (CONTRACT §3): bookings and commands to cars.
  vehicle_not_found: { status: 404, message: 'No such vehicle' },
  booking_not_found: { status: 404, message: 'No such booking' },
  command_not_found: { status: 404, message: 'No such command' },
  not_your_vehicle: { status: 403, message: 'This vehicle belongs to another operator' },
  not_booking_member: { status: 403, message: 'The booking belongs to another member' },
  booking_conflict: { status: 409, message: 'The vehicle is already booked over part of this time' },
  booking_not_active: { status: 409, message: 'The booking is not active now' },
  booking_cancelled: { status: 409, message: 'The booking was cancelled' },
  booking_other_vehicle: { status: 409, message: 'The booking is for another vehicle' },
  vehicle_offline: { status: 409, message: 'The vehicle is offline; the command was not sent' },
  vehicle_moving: { status: 409, message: 'The vehicle is moving; it cannot be locked now' },
  ignition_on: { status: 409, message: 'The ignition is on; the vehicle cannot be locked now' },
  vehicle_not_secured: {
    status: 409,
    message: 'The vehicle does not report itself locked with its doors closed; the booking goes on',
  },
  vehicle_status_stale: {
    status: 409,
    message: 'No recent report from the vehicle; it cannot be returned now',
  },
  idempotency_key_required: { status: 400, message: 'An Idempotency-Key header is required' },
  idempotency_conflict: {
    status: 422,
    message: 'This Idempotency-Key was already used with a different request',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** An error the api answers as `{"error":{"code","message"}}` with the registry's status. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly statusCode: number;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(
      message ?? ERRORS[code].message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.statusCode = ERRORS[code].status;
    this.headers = options.headers ?? {};
  }
}

export const apiError = (code: ErrorCode, message?: string, headers?: Record<string, string>): ApiError =>
  new ApiError(code, message, headers ? { headers } : {});

export const isApiError = (e: unknown): e is ApiError => e instanceof ApiError;

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
    }),
  })
  .meta({
    id: 'Error',
    description: 'Every error answer. `code` is stable; `message` is for people.',
  });
export type ErrorBody = z.infer<typeof errorBodySchema>;

export const errorBody = (code: ErrorCode, message?: string): ErrorBody => ({
  error: { code, message: message ?? ERRORS[code].message },
});

/**
 * Fastify's own errors (and plugins') carry only a status: the code answered for each, so that every
 * answer has a registry code. A status missing here answers `bad_request` (4xx) or `internal` (5xx).
 */
const CODE_FOR_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
};

export function codeForStatus(status: number | undefined): ErrorCode {
  if (status !== undefined && CODE_FOR_STATUS[status]) return CODE_FOR_STATUS[status];
  return status !== undefined && status >= 400 && status < 500 ? 'bad_request' : 'internal';
}

/** The codes each status can answer, for the OpenAPI response descriptions. */
export function codesForStatus(status: number): ErrorCode[] {
  return ERROR_CODES.filter((c) => ERRORS[c].status === status);
}

/**
 * Response schemas for a route's error statuses, documented with the codes each may carry:
 * `schema: { response: { 201: deviceSchema, ...errorResponses(400, 401, 409) } }`.
 */
export function errorResponses(...statuses: number[]) {
  const out: Record<
    number,
    { description: string; content: { 'application/json': { schema: typeof errorBodySchema } } }
  > = {};
  for (const s of statuses) {
    const codes = codesForStatus(s);
    out[s] = {
      description: codes.length ? `error codes: ${codes.join(', ')}` : 'error',
      content: { 'application/json': { schema: errorBodySchema } },
    };
  }
  return out;
}

/** Markdown table of the registry, put in the OpenAPI document's description. */
export function errorCodesMarkdown(): string {
  const rows = ERROR_CODES.map((c) => `| \`${c}\` | ${ERRORS[c].status} | ${ERRORS[c].message} |`);
  return ['| code | status | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
