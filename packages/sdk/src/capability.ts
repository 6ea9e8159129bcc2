/**
 * Presenting the turn capability on the ledger and journal calls of a turn. `LedgerClient`'s
 * effect and step methods take no capability, so a client that can send one says so by
 * implementing `withCapability` (httpLedgerClient does: it adds the `baton-capability` header).
 */
import type { LedgerClient } from '@baton/core';

export interface CapabilityLedgerClient extends LedgerClient {
  /** The same client, presenting `capability` on every call. */
  withCapability(capability: string): LedgerClient;
}

function canBind(l: LedgerClient): l is CapabilityLedgerClient {
  return typeof (l as Partial<CapabilityLedgerClient>).withCapability === 'function';
}

/** The ledger a turn or migration uses: bound to its capability when it has one and the client can send it. */
export function boundLedger(ledger: LedgerClient, capability: string | null): LedgerClient {
  return capability !== null && canBind(ledger) ? ledger.withCapability(capability) : ledger;
}
