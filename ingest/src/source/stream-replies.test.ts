import { describe, expect, it } from 'vitest';
import { compareIds, lowestFloor, nextId, parseGroups, parseReply } from './stream-replies.ts';

describe('stream replies', () => {
  it('reads entries of an XREADGROUP reply, a missing one, and one without the expected fields', () => {
    const b = (s: string) => Buffer.from(s);
    const reply = [
      [
        b('citytel:ingest'),
        [
          [b('1-0'), [b('t'), b('sensors/kit-1/readings'), b('p'), Buffer.from([0, 49, 0, 123])]],
          [b('1-1'), null],
          [b('2-0'), [b('x'), b('y')]],
        ],
      ],
    ];
    expect(parseReply(reply)).toEqual([
      { id: '1-0', topic: 'sensors/kit-1/readings', payload: Buffer.from([0, 49, 0, 123]) },
      { id: '1-1', topic: '', payload: Buffer.alloc(0), missing: true },
      { id: '2-0', topic: '', payload: Buffer.alloc(0) },
    ]);
    expect(parseReply(null)).toEqual([]);
  });

  it('reads XINFO GROUPS', () => {
    const reply = [
      ['name', 'ingest', 'consumers', 3, 'pending', 12, 'last-delivered-id', '1700-4', 'entries-read', 9],
      ['name', 'archive', 'consumers', 0, 'pending', 0, 'last-delivered-id', '0-0'],
    ];
    expect(parseGroups(reply)).toEqual([
      { name: 'ingest', pending: 12, lastDeliveredId: '1700-4' },
      { name: 'archive', pending: 0, lastDeliveredId: '0-0' },
    ]);
  });

  it('orders ids as two integers, not as strings', () => {
    expect(compareIds('9-0', '10-0')).toBe(-1);
    expect(compareIds('10-10', '10-9')).toBe(1);
    expect(compareIds('5-5', '5-5')).toBe(0);
    expect(nextId('1764000000000-18446744073709551614')).toBe('1764000000000-18446744073709551615');
    expect(nextId('0-0')).toBe('0-1');
    expect(lowestFloor(['10-1', '9-7', '10-0'])).toBe('9-7');
    expect(lowestFloor([])).toBeUndefined();
  });
});
