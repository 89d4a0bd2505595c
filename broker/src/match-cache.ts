/**
 * Topic → matches, remembered until the subscriptions change.
 *
 * Every message is matched against the subscription trees twice (Aedes' emitter to find the online
 * handlers, the session store to find persistent sessions), each a qlobber walk of the topic's levels: about
 * 6 % of the broker's time under load. Devices publish on a few topics each, again and again, and
 * subscriptions change rarely (a service or a car connecting), so the answer is kept per topic and the whole
 * cache dropped on any change. Bounded: past `limit` topics it starts over.
 */
export class MatchCache<T> {
  readonly #answers = new Map<string, T>();
  /** Counts the changes, so an answer computed before one (awaited meanwhile) is not kept. */
  generation = 0;

  constructor(private readonly limit = 20_000) {}

  peek(topic: string): T | undefined {
    return this.#answers.get(topic);
  }

  /** Keeps an answer computed while the subscriptions were at `generation`, unless they changed since. */
  keep(topic: string, answer: T, generation: number): void {
    if (generation !== this.generation) return;
    if (this.#answers.size >= this.limit) this.#answers.clear();
    this.#answers.set(topic, answer);
  }

  get(topic: string, compute: (topic: string) => T): T {
    let answer = this.#answers.get(topic);
    if (answer === undefined) {
      answer = compute(topic);
      if (this.#answers.size >= this.limit) this.#answers.clear();
      this.#answers.set(topic, answer);
    }
    return answer;
  }

  clear(): void {
    this.generation++;
    this.#answers.clear();
  }
}

interface Matcher {
  match(topic: string): unknown;
  add(...args: unknown[]): unknown;
  remove(...args: unknown[]): unknown;
  clear?(): unknown;
}

/**
 * Puts a MatchCache in front of an mqemitter's qlobber (`mq._matcher`). The arrays handed out are shared:
 * mqemitter only iterates them. Returns false (and changes nothing) when the emitter has no such matcher.
 */
export function cacheEmitterMatches(mq: unknown): boolean {
  const matcher = (mq as { _matcher?: Matcher })._matcher;
  if (
    !matcher ||
    typeof matcher.match !== 'function' ||
    typeof matcher.add !== 'function' ||
    typeof matcher.remove !== 'function'
  )
    return false;
  const cache = new MatchCache<unknown>();
  const match = matcher.match.bind(matcher);
  const add = matcher.add.bind(matcher);
  const remove = matcher.remove.bind(matcher);
  matcher.match = (topic: string) => cache.get(topic, match);
  matcher.add = (...args: unknown[]) => {
    cache.clear();
    return add(...args);
  };
  matcher.remove = (...args: unknown[]) => {
    cache.clear();
    return remove(...args);
  };
  if (typeof matcher.clear === 'function') {
    const clear = matcher.clear.bind(matcher);
    matcher.clear = () => {
      cache.clear();
      return clear();
    };
  }
  return true;
}
