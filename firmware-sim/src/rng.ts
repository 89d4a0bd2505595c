/**
 * Deterministic randomness. The plan (which kit is where) comes from a seeded PRNG; the values a kit
 * reports come from hashes of (seed, device, time), so a reading at a given instant is the same on every
 * run and on every restart, whatever happened before it.
 */

/** mulberry32: a tiny 32-bit PRNG, good enough for a simulation, returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded PRNG with the helpers the planner needs. */
export interface Rng {
  next(): number;
  range(min: number, max: number): number;
  int(min: number, maxInclusive: number): number;
  pick<T>(list: readonly T[]): T;
  chance(p: number): boolean;
  gauss(): number;
}

export function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  const rng: Rng = {
    next,
    range: (min, max) => min + (max - min) * next(),
    int: (min, maxInclusive) => min + Math.floor(next() * (maxInclusive - min + 1)),
    pick: (list) => list[Math.floor(next() * list.length)]!,
    chance: (p) => next() < p,
    // Box–Muller; 1 - next() keeps log() away from 0.
    gauss: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
  return rng;
}

/** FNV-1a over the parts' text, then an avalanche, as an unsigned 32-bit integer. */
export function hash32(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  const text = parts.join('\u0001');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A float in [0, 1) fixed by its parts. */
export const hashUnit = (...parts: (string | number)[]): number => hash32(...parts) / 4294967296;

/** A standard normal value fixed by its parts. */
export function hashGauss(...parts: (string | number)[]): number {
  const u = 1 - hashUnit(...parts, 'u');
  const v = hashUnit(...parts, 'v');
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Smooth 1-D value noise in [-1, 1]: random values at knots `step` apart, joined by cosine interpolation,
 * so a background level drifts slowly instead of jumping.
 */
export function smoothNoise(x: number, step: number, ...key: (string | number)[]): number {
  const k = Math.floor(x / step);
  const f = x / step - k;
  const a = hashUnit(...key, k) * 2 - 1;
  const b = hashUnit(...key, k + 1) * 2 - 1;
  const w = (1 - Math.cos(Math.PI * f)) / 2;
  return a * (1 - w) + b * w;
}
