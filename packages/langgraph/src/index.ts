export { BRANCH_SPAN, BatonCheckpointSaver, graphStoreOf, nextChannelVersion } from './saver';
export type { BatonCheckpointSaverOptions, GraphStoreSource } from './saver';
export {
  GRAPH_VERSION_KEY,
  MIGRATED_FROM_KEY,
  TURN_ID_KEY,
  LangGraphPointer,
  langGraphAgent,
} from './worker';
export type {
  ChannelMigration,
  CompiledGraphLike,
  CompiledOf,
  GraphBuilderLike,
  LangGraphAgent,
  LangGraphAgentSpec,
  MigrateThreadResult,
  PreflightResult,
  ThreadInspection,
} from './worker';
