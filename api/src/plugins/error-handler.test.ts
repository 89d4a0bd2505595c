import { describe, expect, it } from 'vitest';
import { validationMessage } from './error-handler.ts';

describe('validation messages', () => {
  it('name each bad parameter with where it was', () => {
    expect(validationMessage('querystring', [{ instancePath: '/metric', message: 'Invalid option' }])).toBe(
      'querystring.metric: Invalid option',
    );
    expect(
      validationMessage('body', [
        { instancePath: '/sensordatavalues/0/value', message: 'expected string' },
        { instancePath: '/', message: 'Unrecognized key: "x"' },
      ]),
    ).toBe('body.sensordatavalues[0].value: expected string; body: Unrecognized key: "x"');
  });

  it('caps a long list', () => {
    const issues = Array.from({ length: 7 }, (_, i) => ({ instancePath: `/f${i}`, message: 'bad' }));
    expect(validationMessage('body', issues)).toBe(
      'body.f0: bad; body.f1: bad; body.f2: bad; body.f3: bad; body.f4: bad; and 2 more',
    );
  });
});
