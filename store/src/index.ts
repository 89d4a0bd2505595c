export { isPostgresUrl } from './dialect.ts';
export { createMetricsServer, type MetricsServer, processRegistry } from './metrics-server.ts';
export { type OpenStoreOptions, openStore } from './open.ts';
export { quietDisabledDebug } from './quiet-debug.ts';
export { NO_ANSWER } from './repos/commands.ts';
export { BOOTSTRAP_ADMIN_ID } from './repos/operators.ts';
export { createLogger, resolveServiceSecret } from './runtime.ts';
export * from './types.ts';
export { newPrefixedId, newUlid } from './ulid.ts';
