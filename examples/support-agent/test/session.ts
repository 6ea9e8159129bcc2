/** The SDK tests' router-side helpers for protocol 2 (checkpoint views, windows, `unchanged` markers). */
export * from '../../../packages/sdk/test/session';
