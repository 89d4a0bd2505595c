import type { Client } from 'aedes';
import { type Identity, identityName } from './identity.ts';

/**
 * The connections of each identity on this broker: capped (a stolen secret or a runaway kit cannot open
 * thousands), and found again when a credential is revoked so they can be dropped. A client counts from
 * the moment its login is accepted until its connection closes; a reconnect under the same client id (the
 * takeover MQTT asks for) replaces its predecessor rather than counting beside it.
 */
export interface ConnectionLimits {
  /** Connections of one device or kit at once, on one broker. */
  perDevice: number;
  /** Connections of one service account at once, on one broker (the simulator's gateways, api instances). */
  perService: number;
}

export function createConnectionRegistry(limits: ConnectionLimits) {
  const byIdentity = new Map<string, Set<Client>>();
  const limitOf = (identity: Identity) =>
    identity.type === 'service' ? limits.perService : limits.perDevice;

  return {
    /**
     * Counts `client` under `identity`, or false when the identity already holds its limit of connections
     * under other client ids.
     */
    admit(client: Client, identity: Identity): boolean {
      const name = identityName(identity);
      let clients = byIdentity.get(name);
      if (!clients) {
        clients = new Set();
        byIdentity.set(name, clients);
      }
      let others = 0;
      for (const c of clients) if (c.id !== client.id && !c.closed) others++;
      if (others >= limitOf(identity)) {
        if (clients.size === 0) byIdentity.delete(name);
        return false;
      }
      clients.add(client);
      const set = clients;
      const forget = () => {
        set.delete(client);
        if (set.size === 0 && byIdentity.get(name) === set) byIdentity.delete(name);
      };
      // The stream closes whatever ended the client: a disconnect, a takeover, a drop, a broker close.
      (client.conn as NodeJS.EventEmitter).once('close', forget);
      return true;
    },

    /** Closes every connection of a device or kit (by its id); the number closed. */
    drop(deviceId: string): number {
      const clients = byIdentity.get(deviceId);
      if (!clients) return 0;
      let n = 0;
      for (const client of [...clients]) {
        if (client.closed) continue;
        client.close();
        n++;
      }
      return n;
    },

    count(name: string): number {
      return byIdentity.get(name)?.size ?? 0;
    },
  };
}

export type ConnectionRegistry = ReturnType<typeof createConnectionRegistry>;
