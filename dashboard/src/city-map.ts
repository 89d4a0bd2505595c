/**
 * The offline fallback map of the demo city, generated at build time from the simulator's own plan of it
 * (firmware-sim/src/city.ts): its main roads, the river their quays follow, and the carsharing stations.
 * Emitted as `city.geojson` beside index.html; the page draws it when the network basemap cannot be
 * reached, so a citizen offline still sees which street a cell covers.
 */

import type { Feature, FeatureCollection } from 'geojson';

interface Pos {
  lat: number;
  lon: number;
}
export interface CityPlan {
  name: string;
  bbox: [number, number, number, number];
  nodes: Readonly<Record<string, Pos>>;
  roads: readonly { name: string; nodes: readonly string[]; traffic: number }[];
  stations: readonly { id: string; name: string; node: string }[];
}

/** Rivers as the roads that run along their banks: the quays are drawn over the water's line. */
export interface RiverPlan {
  name: string;
  along: string;
}

const at = (city: CityPlan, node: string): [number, number] => {
  const p = city.nodes[node];
  if (!p) throw new Error(`city ${city.name}: unknown node ${node}`);
  return [p.lon, p.lat];
};

export function cityGeoJson(city: CityPlan, rivers: readonly RiverPlan[]): FeatureCollection {
  const features: Feature[] = [];
  for (const river of rivers) {
    const road = city.roads.find((r) => r.name === river.along);
    if (!road) throw new Error(`city ${city.name}: no road ${river.along} for ${river.name}`);
    features.push({
      type: 'Feature',
      properties: { kind: 'water', name: river.name },
      geometry: { type: 'LineString', coordinates: road.nodes.map((n) => at(city, n)) },
    });
  }
  for (const road of city.roads) {
    features.push({
      type: 'Feature',
      properties: { kind: 'road', name: road.name, traffic: road.traffic },
      geometry: { type: 'LineString', coordinates: road.nodes.map((n) => at(city, n)) },
    });
  }
  for (const s of city.stations) {
    features.push({
      type: 'Feature',
      properties: { kind: 'station', name: s.name },
      geometry: { type: 'Point', coordinates: at(city, s.node) },
    });
  }
  return { type: 'FeatureCollection', bbox: city.bbox, features };
}
