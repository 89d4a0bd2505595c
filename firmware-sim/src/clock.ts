/**
 * Two clocks: the real one stamps what is sent (so the platform accepts it), the simulated one, running
 * `speedup` times faster from the start, drives the model and the cars, so a demo shows a day in minutes.
 */
export interface Clock {
  /** Real epoch ms. */
  now(): number;
  /** Simulated epoch ms. */
  sim(): number;
  readonly speedup: number;
}

export function createClock(speedup = 1, now: () => number = Date.now): Clock {
  const start = now();
  return { now, sim: () => start + (now() - start) * speedup, speedup };
}

/** Runs `fn` every `periodMs` after `firstMs`, never overlapping itself; errors go to `onError`. */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly periodMs: () => number,
    private readonly fn: () => Promise<void> | void,
    private readonly onError: (e: unknown) => void,
  ) {}

  start(firstMs: number): void {
    this.stopped = false;
    this.schedule(firstMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      try {
        await this.fn();
      } catch (e) {
        this.onError(e);
      }
      this.schedule(this.periodMs());
    }, ms);
  }
}
