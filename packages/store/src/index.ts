export * from './store';
export { openStore } from './factory';
export type { OpenStoreOptions } from './factory';
export * from './cipher';
