export * from './store';
export { openStore } from './factory';
export type { OpenStoreOptions } from './factory';
export * from './cipher';
/** Checkpoints a session keeps when `keepCheckpoints` is not set (compaction after every append). */
export { DEFAULT_KEEP_CHECKPOINTS } from './common';
