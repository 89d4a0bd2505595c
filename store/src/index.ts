export { isPostgresUrl } from './dialect.ts';
export { type OpenStoreOptions, openStore } from './open.ts';
export { BOOTSTRAP_ADMIN_ID } from './repos/operators.ts';
export { createLogger, resolveServiceSecret } from './runtime.ts';
export * from './types.ts';
