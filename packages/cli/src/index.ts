export { BatonClient } from './client';
export type { ClientOptions, RolloutStatus, CreatedSession, TurnResult } from './client';
export { ExitCode, exitCodeFor, formatError, CliError } from './exit';
export { buildProgram, runCli } from './program';
export { resolveServeConfig, ensureTokens } from './config';
export type { ServeConfig, Tokens } from './config';
export { renderRollout, summaryLine } from './view';
