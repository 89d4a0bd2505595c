// Types of setup.mjs (plain Node, run before any dependency exists) for the TypeScript that reuses it.
export const root: string;
export function checkNode(): void;
export function ensureNpmDeps(): void;
export function ensureDebianPackages(packages: Record<string, string>): void;
export function ensureDashboardBuilt(): void;
