/** The SDK's Map-backed LedgerClient for unit tests (the real ledger is the store's). */
export { MapLedger } from '../../../packages/sdk/test/ledger';
