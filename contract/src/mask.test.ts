import { describe, expect, it } from 'vitest';
import { maskClientId, maskTopic } from './mask.ts';

describe('SCK tokens in logs', () => {
  it('masks a client id of a token shape, and the token level of a kit topic', () => {
    expect(maskClientId('ab12cd')).toBe('a*****');
    expect(maskClientId('kit-42')).toBe('kit-42');
    expect(maskClientId('kit-42/backup')).toBe('kit-42/backup');
    expect(maskClientId(undefined)).toBeNull();
    expect(maskTopic('device/sck/ab12cd/readings/raw')).toBe('device/sck/a*****/readings/raw');
    expect(maskTopic('sensors/kit-1/readings')).toBe('sensors/kit-1/readings');
  });
});
