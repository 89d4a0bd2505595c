import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const QUIET = Symbol.for('citytel.quiet-debug');

type DebugFactory = ((namespace: string) => unknown) & {
  enabled(namespace: string): boolean;
  [QUIET]?: true;
};

/**
 * Makes the `debug` loggers that are off when they are made cost nothing.
 *
 * mqtt-packet (inside Aedes and MQTT.js) calls its `debug` loggers about twenty times per message, and a
 * disabled `debug` logger still builds an array of its arguments and checks its namespace on every call:
 * 5 % of the broker's time under load. Called before those libraries load, this puts a factory in front of
 * the `debug` module that hands out the real logger when `DEBUG` enables its namespace at start-up, and an
 * empty function otherwise. So `DEBUG=mqtt-packet:* npm start -w broker` still traces; what no longer works
 * is switching a namespace on later from code (`debug.enable`), which nothing here does. Resolved from
 * each package given, so every copy of `debug` they would load is covered.
 */
export function quietDisabledDebug(packages: readonly string[] = ['mqtt-packet', 'mqtt']): void {
  for (const pkg of packages) {
    let path: string;
    try {
      path = createRequire(require.resolve(pkg)).resolve('debug');
    } catch {
      continue; // not installed here, or it does not use debug
    }
    const real = require(path) as DebugFactory;
    if (real[QUIET]) continue;
    const cached = require.cache[path];
    if (!cached) continue;
    const quiet = ((namespace: string) =>
      real.enabled(namespace) ? real(namespace) : off(namespace)) as DebugFactory;
    // Everything else (enable, formatters, log...) is the real module's.
    Object.setPrototypeOf(quiet, real);
    quiet[QUIET] = true;
    cached.exports = quiet;

    function off(namespace: string) {
      const logger = Object.assign(() => undefined, {
        namespace,
        enabled: false,
        extend: (sub: string, delimiter = ':') => quiet(`${namespace}${delimiter}${sub}`),
        destroy: () => false,
      });
      return logger;
    }
  }
}
