import type { Client } from 'aedes';

/** Where a connection comes from, as the listener saw it (a WebSocket stream has no address of its own). */
const remotes = new WeakMap<Client, string>();

export function rememberRemote(client: Client, address: string | undefined): void {
  if (address) remotes.set(client, address);
}

export function remoteAddressOf(client: Client | null | undefined): string {
  if (!client) return 'internal';
  return remotes.get(client) ?? (client.conn as { remoteAddress?: string }).remoteAddress ?? 'unknown';
}
