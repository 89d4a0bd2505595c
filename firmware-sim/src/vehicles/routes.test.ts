import { describe, expect, it } from 'vitest';
import { RENNES, stationPosition } from '../city.ts';
import { distanceM, distanceToSegmentM } from '../geo.ts';
import { makeRoute, nearestNode, pointAt, roadGraph, routeBetween, shortestPath } from './routes.ts';

describe('routes', () => {
  // Two legs: 1 km due east along the parallel, then north.
  const a = { lat: 48.11, lon: -1.68 };
  const b = { lat: 48.11, lon: -1.68 + 1000 / (111_195 * Math.cos((48.11 * Math.PI) / 180)) };
  const c = { lat: 48.11 + 500 / 111_195, lon: b.lon };
  const route = makeRoute([a, b, c]);

  it('measures its legs', () => {
    expect(route.cumulative[1]).toBeCloseTo(1000, 0);
    expect(route.lengthM).toBeCloseTo(1500, 0);
  });

  it('interpolates a position from the distance driven, with the heading of its leg', () => {
    const mid = pointAt(route, 500);
    expect(distanceM(mid.position, a)).toBeCloseTo(500, 0);
    expect(mid.heading).toBe(90);
    expect(mid.arrived).toBe(false);
    const north = pointAt(route, 1250);
    expect(distanceM(north.position, b)).toBeCloseTo(250, 0);
    expect(north.heading).toBe(0);
  });

  it('clamps to the ends and says when it has arrived', () => {
    expect(pointAt(route, -10).position).toEqual(a);
    const end = pointAt(route, 99_999);
    expect(end.position).toEqual(c);
    expect(end.arrived).toBe(true);
  });

  it('joins every pair of stations along the roads', () => {
    const g = roadGraph(RENNES);
    for (const s of RENNES.stations) {
      for (const t of RENNES.stations) {
        if (s === t) continue;
        const path = shortestPath(g, s.node, t.node);
        expect(path?.[0]).toBe(s.node);
        expect(path?.at(-1)).toBe(t.node);
      }
    }
  });

  it('drives a plausible distance: longer than the crow flies, not absurdly so', () => {
    const g = roadGraph(RENNES);
    const r = routeBetween(RENNES, g, 'villejean', 'beaulieu');
    const crow = distanceM(stationPosition(RENNES, 'villejean'), stationPosition(RENNES, 'beaulieu'));
    expect(r.lengthM).toBeGreaterThanOrEqual(crow);
    expect(r.lengthM).toBeLessThan(crow * 1.6);
    // Every interpolated point lies on one of the route's own segments.
    for (let d = 0; d <= r.lengthM; d += 100) {
      const p = pointAt(r, d).position;
      const onRoute = r.points.slice(1).some((q, i) => distanceToSegmentM(p, r.points[i]!, q) < 1);
      expect(onRoute).toBe(true);
    }
  });

  it('finds the junction nearest a place', () => {
    expect(nearestNode(RENNES, { lat: 48.1037, lon: -1.672 })).toBe('gares');
  });
});
