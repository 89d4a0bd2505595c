import type { Position } from '@citytel/contract';
import type { City } from '../city.ts';
import { hash32 } from '../rng.ts';
import { nearestNode, pointAt, type RoadGraph, type Route, routeBetween } from '../vehicles/routes.ts';

/**
 * A person carrying a kit on foot or by bike, from junction to junction along the city's roads. The
 * next destination comes from a hash of (seed, kit, leg), so the walk is the same on every run.
 */
export class Walker {
  private leg = 0;
  private node: string;
  private route: Route;
  private along = 0;
  private lastMs: number | undefined;

  constructor(
    private readonly city: City,
    private readonly graph: RoadGraph,
    private readonly seed: number,
    private readonly id: string,
    start: Position,
    private readonly speedKmh: number,
  ) {
    this.node = nearestNode(city, start);
    this.route = this.nextRoute();
  }

  private nextRoute(): Route {
    const names = Object.keys(this.city.nodes).filter((n) => n !== this.node);
    const to = names[hash32(this.seed, this.id, 'leg', this.leg++) % names.length]!;
    const r = routeBetween(this.city, this.graph, this.node, to);
    this.node = to;
    return r;
  }

  /** Position at simulated time `ms` (time only moves forward). */
  at(ms: number): Position {
    if (this.lastMs !== undefined && ms > this.lastMs) {
      let d = ((ms - this.lastMs) / 3_600_000) * this.speedKmh * 1000;
      while (d > 0) {
        const left = this.route.lengthM - this.along;
        if (d < left) {
          this.along += d;
          d = 0;
        } else {
          d -= left;
          this.route = this.nextRoute();
          this.along = 0;
        }
      }
    }
    if (this.lastMs === undefined || ms > this.lastMs) this.lastMs = ms;
    return pointAt(this.route, this.along).position;
  }
}
