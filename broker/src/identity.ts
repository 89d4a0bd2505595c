import type { ServiceAccount } from '@citytel/contract';
import type { Client } from 'aedes';

/** Who a connection authenticated as; everything the ACL needs, nothing it has to look up again. */
export type Identity =
  | { type: 'device'; kind: 'native' | 'airrohr' | 'vehicle'; id: string }
  | { type: 'sck'; id: string; token: string }
  | { type: 'service'; account: ServiceAccount };

/** The name refusal logs and stats use for an identity. */
export function identityName(identity: Identity): string {
  if (identity.type === 'service') return identity.account;
  return identity.id;
}

// A WeakMap rather than a property on Aedes' client object: nothing a client sends can reach it, and the
// entry goes with the client.
const identities = new WeakMap<Client, Identity>();

export function attachIdentity(client: Client, identity: Identity): void {
  identities.set(client, identity);
}

export function identityOf(client: Client | null | undefined): Identity | undefined {
  return client ? identities.get(client) : undefined;
}
