export { defineAgent, computeManifest, historyPolicy } from './agent';
export type { AgentDefinition, AgentHooks, AgentSpec, ToolSpec, TurnHandler } from './agent';
export type {
  DownMigrations,
  MigrationContext,
  MigrationFn,
  Migrations,
  NoSchemas,
  StateSchemas,
  UpMigrations,
} from './migrations';
export type {
  CompensationContext,
  CompensationFn,
  CompensationInput,
  EffectOptions,
  ModelUsage,
  TurnContext,
  WaitOptions,
  WaitSchemas,
} from './context';
export { runCompensation } from './compensate';
export type { HistoryPageQuery, HistoryReader } from './history';
export type { CapabilityLedgerClient } from './capability';
export { runTurn } from './turn';
export { ShadowSandbox, isToolRecord } from './shadow';
export type { ShadowPolicy, ToolRecord } from './shadow';
export type { RunTurnOptions } from './turn';
export { migrateCheckpoint } from './migrate';
export { InProcessWorker } from './worker';
export type { InProcessWorkerOptions } from './worker';
export { httpLedgerClient, serveWorker } from './http';
export type { HttpLedgerOptions, ServeWorkerOptions, ServedWorker } from './http';
export { HttpWorkerClient, httpWorkerClient, isTransportError } from './worker-client';
export type { HttpWorkerClientOptions } from './worker-client';
export { parseCompensateRequest, parseMigrateRequest, parseTurnRequest } from './wire';
// the protocol's schemas are core's (the router checks answers with the same); re-exported here
export {
  compensateRequestSchema,
  migrateRequestSchema,
  migrateRequestV1Schema,
  turnRequestSchema,
  turnRequestV1Schema,
  turnResponseSchema,
} from '@baton/core';
export { checkWorkerConformance } from './conformance';
export type { ConformanceOptions, ConformanceResult } from './conformance';
