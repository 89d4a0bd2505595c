import ngeohash from 'ngeohash';
import { describe, expect, it } from 'vitest';
import { overlaps, prefilterCells } from './map-query.ts';

const rennes = { minLon: -1.75, minLat: 48.08, maxLon: -1.62, maxLat: 48.14 };

describe('bbox prefilter', () => {
  it('lists cells covering the box, coarsened to at most 200', () => {
    const cells = prefilterCells(rennes, 6)!;
    expect(cells.length).toBeLessThanOrEqual(200);
    for (let i = 0; i < 500; i++) {
      const lat = rennes.minLat + Math.random() * (rennes.maxLat - rennes.minLat);
      const lon = rennes.minLon + Math.random() * (rennes.maxLon - rennes.minLon);
      const h = ngeohash.encode(lat, lon, 6);
      expect(cells.some((c) => h.startsWith(c))).toBe(true);
    }
  });

  it('falls back to one-character cells for a box over the world', () => {
    const cells = prefilterCells({ minLon: -170, minLat: -80, maxLon: 170, maxLat: 80 }, 6)!;
    expect(cells.every((c) => c.length === 1)).toBe(true);
  });
});

describe('overlaps', () => {
  const cell = ngeohash.decode_bbox('gbwc9y') as [number, number, number, number];
  const [s, w, n, e] = cell;

  it('is true for a box sharing area with the cell', () => {
    expect(overlaps(cell, { minLon: w, minLat: s, maxLon: e, maxLat: n })).toBe(true);
    expect(overlaps(cell, { minLon: e - 1e-9, minLat: s, maxLon: e + 1, maxLat: n })).toBe(true);
  });

  it('is false for a box that only touches an edge', () => {
    expect(overlaps(cell, { minLon: e, minLat: s, maxLon: e + 1, maxLat: n })).toBe(false);
    expect(overlaps(cell, { minLon: w, minLat: n, maxLon: e, maxLat: n + 1 })).toBe(false);
  });
});
