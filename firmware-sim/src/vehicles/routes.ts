import type { Position } from '@citytel/contract';
import { type City, nodePosition } from '../city.ts';
import { bearingDeg, distanceM, lerp } from '../geo.ts';

/** A path along waypoints with its cumulative lengths, so a position is found from the distance driven. */
export interface Route {
  points: Position[];
  /** cumulative[i] = metres from points[0] to points[i] */
  cumulative: number[];
  lengthM: number;
}

export function makeRoute(points: readonly Position[]): Route {
  if (points.length === 0) throw new Error('a route needs at least one point');
  const cumulative = [0];
  for (let i = 1; i < points.length; i++)
    cumulative.push(cumulative[i - 1]! + distanceM(points[i - 1]!, points[i]!));
  return { points: [...points], cumulative, lengthM: cumulative[cumulative.length - 1]! };
}

export interface RoutePoint {
  position: Position;
  /** Degrees clockwise from north, of the segment being travelled. */
  heading: number;
  /** True once the distance reaches the end of the route. */
  arrived: boolean;
}

/** Where one is after `distance` metres along the route (clamped to its ends). */
export function pointAt(route: Route, distance: number): RoutePoint {
  const { points, cumulative, lengthM } = route;
  if (points.length === 1) return { position: points[0]!, heading: 0, arrived: true };
  const d = Math.max(0, Math.min(lengthM, distance));
  // Binary search for the segment holding d.
  let lo = 0;
  let hi = cumulative.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! <= d) lo = mid;
    else hi = mid;
  }
  const a = points[lo]!;
  const b = points[hi]!;
  const seg = cumulative[hi]! - cumulative[lo]!;
  const f = seg === 0 ? 0 : (d - cumulative[lo]!) / seg;
  return { position: lerp(a, b, f), heading: Math.round(bearingDeg(a, b)) % 360, arrived: d >= lengthM };
}

/** The road network of a city as an adjacency list of junctions with the lengths between them. */
export type RoadGraph = Map<string, { to: string; m: number }[]>;

export function roadGraph(city: City): RoadGraph {
  const g: RoadGraph = new Map();
  const link = (a: string, b: string) => {
    const m = distanceM(nodePosition(city, a), nodePosition(city, b));
    if (!g.has(a)) g.set(a, []);
    g.get(a)!.push({ to: b, m });
  };
  for (const road of city.roads) {
    for (let i = 1; i < road.nodes.length; i++) {
      link(road.nodes[i - 1]!, road.nodes[i]!);
      link(road.nodes[i]!, road.nodes[i - 1]!);
    }
  }
  return g;
}

/** Shortest path between two junctions (Dijkstra; the network has a few dozen nodes). */
export function shortestPath(graph: RoadGraph, from: string, to: string): string[] | undefined {
  const dist = new Map<string, number>([[from, 0]]);
  const prev = new Map<string, string>();
  const open = new Set<string>([from]);
  while (open.size > 0) {
    let u: string | undefined;
    for (const n of open) if (u === undefined || dist.get(n)! < dist.get(u)!) u = n;
    open.delete(u!);
    if (u === to) break;
    for (const e of graph.get(u!) ?? []) {
      const alt = dist.get(u!)! + e.m;
      if (alt < (dist.get(e.to) ?? Number.POSITIVE_INFINITY)) {
        dist.set(e.to, alt);
        prev.set(e.to, u!);
        open.add(e.to);
      }
    }
  }
  if (!dist.has(to)) return undefined;
  const path = [to];
  while (path[0] !== from) path.unshift(prev.get(path[0]!)!);
  return path;
}

/** A drivable route between two junctions of the city, along its roads. */
export function routeBetween(city: City, graph: RoadGraph, fromNode: string, toNode: string): Route {
  const path = shortestPath(graph, fromNode, toNode);
  if (!path) throw new Error(`city ${city.name}: no road from ${fromNode} to ${toNode}`);
  return makeRoute(path.map((n) => nodePosition(city, n)));
}

/** The junction nearest to a position: where a kit or car joins the network. */
export function nearestNode(city: City, p: Position): string {
  let best = '';
  let bestM = Number.POSITIVE_INFINITY;
  for (const [name, pos] of Object.entries(city.nodes)) {
    const m = distanceM(p, pos);
    if (m < bestM) {
      best = name;
      bestM = m;
    }
  }
  return best;
}
