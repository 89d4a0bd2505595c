import { describe, expect, it } from 'vitest';
import { parseMapEntries } from './rollup.ts';

describe('packed map rollup entries', () => {
  it('reads kits by device and position, and mobile readings by 7-cell', () => {
    expect(parseMapEntries('d|kit-1|gbwc9y2bc|30.5|3|12.25;m|gbwc9y3|1e-7|1|1e-7|2')).toEqual([
      { kind: 'd', device: 'kit-1', pos: 'gbwc9y2bc', sum: 30.5, count: 3, max: 12.25 },
      { kind: 'm', cell: 'gbwc9y3', sum: 1e-7, count: 1, max: 1e-7, devices: 2 },
    ]);
  });

  it('skips entries it does not know', () => {
    expect(parseMapEntries('x|1|2;d|short')).toEqual([]);
  });
});
