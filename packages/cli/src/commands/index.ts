import type { Command } from 'commander';
import { registerRollout } from './rollout';
import { registerSessions } from './sessions';
import { registerVersions } from './versions';
import { registerServe } from './serve-cmd';
import { registerDemo } from './demo-cmd';
import { registerStatus } from './status';
import { registerStore } from './store';

export const allCommands: Array<(p: Command) => void> = [
  registerServe,
  registerDemo,
  registerVersions,
  registerRollout,
  registerSessions,
  registerStatus,
  registerStore,
];
