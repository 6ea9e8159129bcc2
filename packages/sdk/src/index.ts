export { defineAgent, computeManifest } from './agent';
export type {
  AgentDefinition,
  AgentHooks,
  AgentSpec,
  MigrationContext,
  MigrationFn,
  Migrations,
  ToolSpec,
  TurnHandler,
} from './agent';
export type { EffectOptions, ModelUsage, TurnContext, WaitOptions } from './context';
export { runTurn } from './turn';
export type { RunTurnOptions } from './turn';
export { migrateCheckpoint } from './migrate';
export { InProcessWorker } from './worker';
export type { InProcessWorkerOptions } from './worker';
export { httpLedgerClient, httpWorkerClient, serveWorker } from './http';
export type { HttpLedgerOptions, HttpWorkerClientOptions, ServeWorkerOptions, ServedWorker } from './http';
export { migrateRequestSchema, parseMigrateRequest, parseTurnRequest, turnRequestSchema } from './wire';
export { checkWorkerConformance } from './conformance';
export type { ConformanceOptions, ConformanceResult } from './conformance';
