import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clientIdOwner,
  ID_PATTERN,
  isLegacyClientId,
  mayUseClientId,
  SERVICE_ACCOUNTS,
  serviceClientId,
} from './ids.ts';

describe('client-id rule', () => {
  it('accepts an identity name alone or with a suffix after /, and nothing another identity could claim', () => {
    expect(mayUseClientId('car-7', 'car-7')).toBe(true);
    expect(mayUseClientId('car-7/obu', 'car-7')).toBe(true);
    expect(mayUseClientId('car-7', 'car-8')).toBe(false);
    expect(mayUseClientId('car-77', 'car-7')).toBe(false);
    expect(mayUseClientId('car-7-x', 'car-7')).toBe(false);
    expect(mayUseClientId('car-7/', 'car-7')).toBe(false);
    expect(mayUseClientId('svc:ingest/main', 'svc:ingest')).toBe(true);
    expect(mayUseClientId('svc:ingest/main', 'svc')).toBe(false);
    expect(mayUseClientId('ab12cd/x', 'ab12cd', false)).toBe(false);
    expect(mayUseClientId('', 'car-7')).toBe(false);
    expect(mayUseClientId(`car-7/${'x'.repeat(200)}`, 'car-7')).toBe(false);
    expect(clientIdOwner('svc:api/host-1')).toEqual({ owner: 'svc:api', suffixed: true });
    expect(serviceClientId('svc:api', 'host 1')).toBe('svc:api/host-1');
  });

  it("takes a firmware's made-up name as legacy only when it claims nobody by its form", () => {
    for (const name of ['ESP8266Client-1a2b', 'mqttjs_3f2a91', 'arduinoClient', 'kit-42'])
      expect(isLegacyClientId(name)).toBe(true);
    for (const name of [
      '',
      'svc:ingest',
      'svc:ingest/main',
      'car-7/x',
      'ab12cd',
      'citytel-ingest-main',
      'a b',
    ])
      expect(isLegacyClientId(name)).toBe(false);
    expect(isLegacyClientId('x'.repeat(129))).toBe(false);
  });

  it('never lets two identities use one client id (property)', () => {
    const id = fc.stringMatching(ID_PATTERN);
    const identity = fc.oneof(id, fc.constantFrom(...SERVICE_ACCOUNTS));
    const clientId = fc.oneof(
      identity,
      fc.tuple(identity, fc.string({ minLength: 1, maxLength: 20 })).map(([a, s]) => `${a}/${s}`),
    );
    fc.assert(
      fc.property(identity, identity, clientId, (a, b, c) => {
        if (a === b) return;
        expect(mayUseClientId(c, a) && mayUseClientId(c, b)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});
