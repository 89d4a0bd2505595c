import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of the sampled time the thread was busy. */
  busyPct: number;
  /** Share of sampled time by where the code lives: a package, one of our files, node internals, GC, idle. */
  byPlace: Array<{ place: string; pct: number }>;
  /** Functions with the most self time. */
  topFunctions: Array<{ fn: string; at: string; pct: number }>;
  /** Functions with the most time spent in them and what they called (each sample counted once per function). */
  topInclusive: Array<{ fn: string; at: string; pct: number }>;
}

/** Where a frame's code lives, coarsely enough to say what bounds a process. */
function placeOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  if (url.startsWith('node:')) return url;
  const pkg = url.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1]!;
  const ours = url.match(/\/work\/[^/]+\/(.*)$/) ?? url.match(/([^/]+\/src\/[^/]+)$/);
  return ours ? ours[1]! : url.replace(/^file:\/\//, '');
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** The main thread's profile among a process's files: the one with the most busy samples. */
export function mainThreadProfile(dir: string): string {
  let best: { file: string; busy: number } | undefined;
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile;
    const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
    const busy = p.samples.filter((id) => !idle.has(id)).length;
    if (!best || busy > best.busy) best = { file: join(dir, f), busy };
  }
  if (!best) throw new Error(`no profile in ${dir}`);
  return best.file;
}

/** Self time of a --cpu-prof profile, by place and by function; shares are of the busy (non-idle) time. */
export function summarizeProfile(file: string, top = 12): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const hits = new Map<number, number>();
  for (const id of p.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const idle = p.nodes
    .filter((n) => n.callFrame.functionName === '(idle)')
    .reduce((s, n) => s + (hits.get(n.id) ?? 0), 0);
  const total = p.samples.length - idle || 1;
  const places = new Map<string, number>();
  const fns = new Map<string, { place: string; n: number }>();
  for (const node of p.nodes) {
    const n = hits.get(node.id) ?? 0;
    if (!n || node.callFrame.functionName === '(idle)') continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const place = placeOf(url, functionName);
    places.set(place, (places.get(place) ?? 0) + n);
    const key = `${functionName || '(anonymous)'}\t${place}:${lineNumber + 1}`;
    const f = fns.get(key) ?? { place, n: 0 };
    f.n += n;
    fns.set(key, f);
  }
  const pct = (n: number) => Math.round((n / total) * 1000) / 10;
  const inclusive = inclusiveHits(p, hits);
  return {
    totalMs: Math.round((p.endTime - p.startTime) / 1000),
    busyPct: Math.round((total / (p.samples.length || 1)) * 1000) / 10,
    byPlace: [...places]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([place, n]) => ({ place, pct: pct(n) })),
    topFunctions: [...fns]
      .sort((a, b) => b[1].n - a[1].n)
      .slice(0, top)
      .map(([key, f]) => ({ fn: key.split('\t')[0]!, at: key.split('\t')[1]!, pct: pct(f.n) })),
    topInclusive: [...inclusive]
      .filter(([key]) => !key.startsWith('(root)') && !key.startsWith('(program)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top * 2)
      .map(([key, n]) => ({ fn: key.split('\t')[0]!, at: key.split('\t')[1]!, pct: pct(n) })),
  };
}

/** Busy samples under each function, a recursive function's counted once per sample. */
function inclusiveHits(p: Profile, hits: Map<number, number>): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  const onPath = new Map<string, number>();
  const keyOf = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'}\t${placeOf(n.callFrame.url, n.callFrame.functionName)}:${n.callFrame.lineNumber + 1}`;
  // Returns the busy samples of the subtree; adds them to each function not already on the path above.
  const walk = (id: number): number => {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') return 0;
    const key = keyOf(node);
    onPath.set(key, (onPath.get(key) ?? 0) + 1);
    let sum = hits.get(id) ?? 0;
    for (const c of node.children ?? []) sum += walk(c);
    const depth = onPath.get(key)! - 1;
    if (depth === 0) {
      onPath.delete(key);
      out.set(key, (out.get(key) ?? 0) + sum);
    } else onPath.set(key, depth);
    return sum;
  };
  const root = p.nodes[0];
  if (root) walk(root.id);
  return out;
}
