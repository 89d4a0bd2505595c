import type { Position } from '@citytel/contract';

/**
 * A city the simulator plays in: its box, centre, a few main roads as chains of named junctions (roads
 * meeting at a junction share its name, so they form one network the cars can route on), and the
 * carsharing stations, each at a junction.
 */
export interface City {
  name: string;
  timeZone: string;
  centre: Position;
  /** [minLon, minLat, maxLon, maxLat] */
  bbox: [number, number, number, number];
  nodes: Readonly<Record<string, Position>>;
  roads: readonly { name: string; nodes: readonly string[]; traffic: number }[];
  stations: readonly { id: string; name: string; node: string }[];
}

/** Rennes, with real-ish coordinates (OpenStreetMap, rounded). `traffic` weighs a road's emissions. */
export const RENNES: City = {
  name: 'Rennes',
  timeZone: 'Europe/Paris',
  centre: { lat: 48.1113, lon: -1.68 },
  bbox: [-1.755, 48.075, -1.625, 48.145],
  nodes: {
    republique: { lat: 48.1099, lon: -1.6794 },
    gares: { lat: 48.1036, lon: -1.6721 },
    janvier: { lat: 48.1068, lon: -1.6748 },
    sainteAnne: { lat: 48.1146, lon: -1.6803 },
    thabor: { lat: 48.1137, lon: -1.6717 },
    rueDeParis: { lat: 48.1146, lon: -1.6575 },
    jeanneDArc: { lat: 48.1189, lon: -1.6628 },
    fougeres: { lat: 48.1184, lon: -1.6515 },
    beaulieu: { lat: 48.1173, lon: -1.6389 },
    maurepas: { lat: 48.1262, lon: -1.6598 },
    saintMalo: { lat: 48.1212, lon: -1.6833 },
    nordOuest: { lat: 48.1236, lon: -1.6935 },
    verdun: { lat: 48.1166, lon: -1.6917 },
    villejean: { lat: 48.1213, lon: -1.7041 },
    quaiOuest: { lat: 48.1093, lon: -1.6884 },
    mabilais: { lat: 48.1071, lon: -1.6962 },
    lorient: { lat: 48.1062, lon: -1.7035 },
    cleunay: { lat: 48.1031, lon: -1.7101 },
    colombier: { lat: 48.1057, lon: -1.6843 },
    pompidou: { lat: 48.0996, lon: -1.6938 },
    alma: { lat: 48.0991, lon: -1.6757 },
    sudGare: { lat: 48.0975, lon: -1.6748 },
    quaiEst: { lat: 48.1107, lon: -1.6689 },
    laennec: { lat: 48.1072, lon: -1.6578 },
  },
  roads: [
    { name: 'Avenue Janvier', nodes: ['gares', 'janvier', 'republique'], traffic: 0.9 },
    {
      name: 'Quais de la Vilaine',
      nodes: ['cleunay', 'lorient', 'mabilais', 'quaiOuest', 'republique', 'quaiEst', 'laennec'],
      traffic: 1,
    },
    { name: 'Rue de Saint-Malo', nodes: ['republique', 'sainteAnne', 'saintMalo'], traffic: 0.6 },
    {
      name: 'Rue de Fougères',
      nodes: ['sainteAnne', 'thabor', 'jeanneDArc', 'fougeres', 'beaulieu'],
      traffic: 0.8,
    },
    { name: 'Rue de Paris', nodes: ['thabor', 'rueDeParis', 'beaulieu'], traffic: 0.7 },
    { name: 'Boulevard de Vitré', nodes: ['jeanneDArc', 'maurepas'], traffic: 0.6 },
    { name: 'Boulevards nord', nodes: ['villejean', 'nordOuest', 'saintMalo', 'maurepas'], traffic: 0.9 },
    { name: 'Boulevard de Verdun', nodes: ['sainteAnne', 'verdun', 'villejean'], traffic: 0.8 },
    { name: 'Rue de Nantes', nodes: ['gares', 'alma', 'sudGare'], traffic: 0.9 },
    { name: 'Boulevard de la Tour d’Auvergne', nodes: ['janvier', 'colombier', 'mabilais'], traffic: 0.8 },
    { name: 'Boulevard Georges Pompidou', nodes: ['cleunay', 'pompidou', 'sudGare'], traffic: 0.7 },
    { name: 'Boulevard Laënnec', nodes: ['gares', 'laennec', 'beaulieu'], traffic: 0.8 },
    { name: 'Rue de Brest', nodes: ['quaiOuest', 'verdun', 'nordOuest'], traffic: 0.5 },
  ],
  stations: [
    { id: 'republique', name: 'République', node: 'republique' },
    { id: 'gares', name: 'Gares', node: 'gares' },
    { id: 'sainte-anne', name: 'Sainte-Anne', node: 'sainteAnne' },
    { id: 'villejean', name: 'Villejean', node: 'villejean' },
    { id: 'beaulieu', name: 'Beaulieu', node: 'beaulieu' },
    { id: 'cleunay', name: 'Cleunay', node: 'cleunay' },
    { id: 'sud-gare', name: 'Sud-Gare', node: 'sudGare' },
    { id: 'maurepas', name: 'Maurepas', node: 'maurepas' },
    { id: 'jeanne-darc', name: 'Jeanne d’Arc', node: 'jeanneDArc' },
    { id: 'thabor', name: 'Thabor', node: 'thabor' },
  ],
};

export const CITIES = { rennes: RENNES } as const;
export type CityName = keyof typeof CITIES;

/** The roads as coordinate polylines, for distance-to-road. */
export function roadLines(city: City): { name: string; traffic: number; line: Position[] }[] {
  return city.roads.map((r) => ({
    name: r.name,
    traffic: r.traffic,
    line: r.nodes.map((n) => nodePosition(city, n)),
  }));
}

export function nodePosition(city: City, node: string): Position {
  const p = city.nodes[node];
  if (!p) throw new Error(`city ${city.name}: unknown node ${node}`);
  return p;
}

export function stationPosition(city: City, stationId: string): Position {
  const s = city.stations.find((x) => x.id === stationId);
  if (!s) throw new Error(`city ${city.name}: unknown station ${stationId}`);
  return nodePosition(city, s.node);
}
