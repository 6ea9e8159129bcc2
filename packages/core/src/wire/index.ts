/** The worker protocol's wire shapes (zod), defined once for the SDK, the router and the tests. */
export * from './shapes';
export * from './worker';
export * from './ledger';
export * from './graph';
