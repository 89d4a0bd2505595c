/**
 * Runs promise code inside one of Aedes' error-first callback hooks. An `async` hook that throws or never
 * resolves would leave the client stalled (conventions: hooks); this answers exactly once, with the value or the
 * error. An exception thrown by `done` itself is not caught here: it is a bug and surfaces as one.
 */
export function settle<T>(work: () => Promise<T>, done: (error: Error | null, value?: T) => void): void {
  let running: Promise<T>;
  try {
    running = work();
  } catch (error) {
    done(asError(error));
    return;
  }
  running.then(
    (value) => done(null, value),
    (error: unknown) => done(asError(error)),
  );
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
