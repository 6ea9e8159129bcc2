/**
 * The example customer-support agent. Each export below is an `AgentDefinition`
 * (load one with `baton worker --agent @baton/example-support-agent --export v2`).
 */
import type { AgentDefinition } from '@baton/sdk';
import { supportV1, supportV2Family } from './agent';
import type { SupportDeps } from './agent';

export const v1 = supportV1();
export const v2 = supportV2Family('v2');
/** Same schema and answers as v2, three times the tool calls (a behavioural regression). */
export const v3Chatty = supportV2Family('v3-chatty');
/** Same schema as v2, answers wrong much more often (a quality regression). */
export const v3Wrong = supportV2Family('v3-wrong');
/** Same answers as v2, plus a follow-up email after every status answer (an extra effect). */
export const v3Spammy = supportV2Family('v3-spammy');
/** v2 whose 1→2 migration throws for some sessions (fails pre-flight). */
export const v2Broken = supportV2Family('v2-broken');

export const VERSION_LABELS = ['v1', 'v2', 'v3-chatty', 'v3-wrong', 'v2-broken', 'v3-spammy'] as const;
export type VersionLabel = (typeof VERSION_LABELS)[number];

/** Every version by label. */
export const versions: Record<VersionLabel, AgentDefinition<any>> = {
  v1,
  v2,
  'v3-chatty': v3Chatty,
  'v3-wrong': v3Wrong,
  'v2-broken': v2Broken,
  'v3-spammy': v3Spammy,
};

/** Builds a version with injected dependencies (e.g. a sink counting executed effects). */
export function supportAgent(label: VersionLabel, deps: SupportDeps = {}): AgentDefinition<any> {
  return label === 'v1' ? supportV1(deps) : supportV2Family(label, deps);
}

export {
  AGENT_NAME,
  APPROVAL_TIMEOUT_MS,
  CONTEXT_WINDOW,
  PROFILES,
  approvalPayload,
  buildContext,
  down2to1,
  messageText,
  sentimentOf,
  stateV1,
  stateV2,
  supportCompensations,
  supportTurn,
  supportV1,
  supportV2Family,
  up1to2,
  up1to2Broken,
} from './agent';
export type {
  EffectSink,
  Profile,
  PromptContext,
  Sentiment,
  StateV1,
  StateV2,
  SupportDeps,
  SupportOutput,
} from './agent';
export {
  ORDER_STATUSES,
  REFUND_LIMIT,
  judgeAnswer,
  orderFacts,
  seeded,
  simulatedUser,
  userFeedback,
} from './world';
export type { Goal, OrderFacts, OrderStatus, SimulatedUser, SupportAnswer } from './world';
