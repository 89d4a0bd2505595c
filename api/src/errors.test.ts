import { describe, expect, it } from 'vitest';
import {
  ApiError,
  codeForStatus,
  ERROR_CODES,
  ERRORS,
  errorBody,
  errorCodesMarkdown,
  errorResponses,
} from './errors.ts';

describe('the error registry', () => {
  it('gives every code an HTTP error status and a message', () => {
    for (const code of ERROR_CODES) {
      expect(code).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(ERRORS[code].status).toBeGreaterThanOrEqual(400);
      expect(ERRORS[code].status).toBeLessThan(600);
      expect(ERRORS[code].message.length).toBeGreaterThan(0);
    }
  });

  it('answers every HTTP status Fastify and its plugins raise with a registry code', () => {
    for (const status of [
      400,
      401,
      403,
      404,
      405,
      406,
      408,
      409,
      413,
      415,
      422,
      429,
      500,
      502,
      503,
      undefined,
    ]) {
      expect(ERROR_CODES).toContain(codeForStatus(status));
    }
    expect(codeForStatus(413)).toBe('payload_too_large');
    expect(codeForStatus(422)).toBe('bad_request');
    expect(codeForStatus(502)).toBe('internal');
    expect(codeForStatus(undefined)).toBe('internal');
  });

  it('builds errors with the status of their code', () => {
    const e = new ApiError('device_exists', 'device kit-1 already exists');
    expect([e.statusCode, e.code, e.message]).toEqual([409, 'device_exists', 'device kit-1 already exists']);
    expect(new ApiError('mqtt_unavailable').message).toBe(ERRORS.mqtt_unavailable.message);
    expect(errorBody('not_found')).toEqual({ error: { code: 'not_found', message: 'No such resource' } });
  });

  it('lists every code in the documentation table and the response descriptions', () => {
    const table = errorCodesMarkdown();
    for (const code of ERROR_CODES) expect(table).toContain(`| \`${code}\` | ${ERRORS[code].status} |`);
    expect(errorResponses(400, 409)[409]!.description).toMatch(/^error codes: conflict, device_exists(, |$)/);
  });
});
