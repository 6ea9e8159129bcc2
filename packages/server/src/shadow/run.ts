/**
 * One shadow run: sample recorded blue turns, replay each on a worker of green that honours
 * shadow turns (with green's migration applied to the state before the turn, as a dry run), and
 * pair blue's recorded outcome with green's. Nothing is written to the store: no lease is taken,
 * the turn capability is read-only (no ledger, journal or graph write), shadow turn ids
 * (`shadow:…`) never collide with real ones, and green's telemetry stays in the returned pairs
 * (never in the aggregates the live gates read).
 */
import {
  BatonError,
  canonicalJson,
  sha256Hex,
  shadowTurnId,
  type Checkpoint,
  type CheckpointMeta,
  type EffectRecord,
  type GateResult,
  type SessionRecord,
  type ShadowDivergence,
  type ShadowReport,
  type TurnRequest,
  type TurnResponse,
  type TurnTelemetry,
  type VersionRecord,
} from '@baton/core';
import { evaluateShadowGate, type ShadowPair } from '../analysis/paired';
import type { ServerContext } from '../context';
import { historyWindowOf } from '../context';
import { pairwiseJudge, type PairwiseJudge } from '../evaluators/pairwise';
import { migrationRunner, runMigration } from '../migration';
import { worstVerdict, type ShadowSummary } from '../rollout/machine';
export { emptyShadow } from '../rollout/machine';
import type { ShadowStageSpec } from '../rollout/spec';
import { mapLimit } from '../rollout/util';
import { turnRequestFor } from '../wire';
import { effectsByTurn, loadRecordedTurn, sessionCandidates, type RecordedTurn } from './recorded';
import { sampleTurns, type TurnCandidate } from './sample';

export type ShadowContext = Pick<
  ServerContext,
  'store' | 'pool' | 'versions' | 'capabilities' | 'limits' | 'clock' | 'evaluations'
>;

export interface ShadowRunInput {
  agent: string;
  blue: string;
  green: string;
  spec: ShadowStageSpec;
  /** Names the run in its shadow turn ids. */
  runId: string;
  beforeStep: number;
  /** Replaces the judge built from `spec.judge` (tests). */
  judge?: PairwiseJudge | null;
}

/** One replayed turn as the evidence lists it (outputs cut to 500 characters). */
export interface ShadowTurnRecord {
  sessionId: string;
  seq: number;
  ending: RecordedTurn['ending'];
  blue: { output: string; effects: string[] };
  green: { output: string; effects: string[]; error?: string };
  divergences: ShadowDivergence[];
}

export interface ShadowRunResult {
  summary: ShadowSummary;
  pairs: ShadowPair[];
  turns: ShadowTurnRecord[];
  skipped: Array<{ sessionId: string; seq: number; reason: string }>;
  results: GateResult[];
}

/** How many candidate sessions are looked at per sampled session (the newest ones). */
const CANDIDATE_FACTOR = 5;
const MAX_EVIDENCE_TURNS = 200;

function cut(v: unknown): string {
  const t = typeof v === 'string' ? v : JSON.stringify(v ?? null);
  return t.length > 500 ? `${t.slice(0, 500)}…` : t;
}

/** Blue's sessions, most recently active first, at most `limit`. */
async function blueSessions(
  ctx: ShadowContext,
  agent: string,
  blue: string,
  limit: number,
): Promise<SessionRecord[]> {
  const out: SessionRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await ctx.store.listSessions({ agent, version: blue, limit: 500, cursor });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null && out.length < limit * 4);
  return out
    .filter((s) => s.status !== 'quarantined' && s.seq >= 2)
    .sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : 1))
    .slice(0, limit);
}

/** Telemetry and custom metrics of one side of a pair, by metric name. */
export function metricsOf(t: TurnTelemetry | null | undefined, error: boolean): Record<string, number> {
  const out: Record<string, number> = { 'turn.error': error ? 1 : 0 };
  if (!t) return out;
  out['turn.latency_ms'] = t.latencyMs;
  out['turn.tool_calls'] = Object.values(t.toolCalls ?? {}).reduce((a, b) => a + b, 0);
  out['turn.reasoning_steps'] = t.reasoningSteps;
  out['turn.tokens_in'] = t.tokensIn;
  out['turn.tokens_out'] = t.tokensOut;
  for (const [k, v] of Object.entries(t.metrics ?? {}))
    if (Number.isFinite(v)) out[k.startsWith('eval.') ? k : `metric.${k}`] = v;
  return out;
}

/** The state before the turn as green reads it: migrated (dry run, on green's workers) when its schema differs. */
async function greenCheckpoint(
  ctx: ShadowContext,
  rec: RecordedTurn,
  green: VersionRecord,
): Promise<Checkpoint | { skip: string }> {
  const cp = rec.before;
  if (cp.schemaVersion === green.schemaVersion) return cp;
  const runOn = await migrationRunner(ctx, rec.session, cp.schemaVersion, green);
  if (runOn === null)
    return { skip: `no migration from schema ${cp.schemaVersion} to ${green.schemaVersion}` };
  const m = await runMigration(ctx, runOn, rec.session, cp, green.schemaVersion, true);
  if (!m.ok) return { skip: `green's migration refused the state: ${m.code}: ${m.reason}` };
  const part = (v: unknown) => sha256Hex(canonicalJson(v ?? null));
  return {
    ...cp,
    schemaVersion: m.schemaVersion,
    body: m.body,
    parts: {
      state: part(m.body.state),
      context: part(m.body.context),
      memory: m.body.memory === undefined ? null : part(m.body.memory),
    },
  };
}

async function replay(
  ctx: ShadowContext,
  input: ShadowRunInput,
  rec: RecordedTurn,
  green: VersionRecord,
): Promise<{ resp: TurnResponse } | { error: string; shadow?: ShadowReport } | { skip: string }> {
  const cp = await greenCheckpoint(ctx, rec, green);
  if ('skip' in cp) return cp;
  const w = historyWindowOf(green);
  const window =
    cp.historyLength === 0 || w.entries === 0
      ? []
      : (
          await ctx.store.readHistory(rec.session.id, {
            before: cp.historyLength,
            limit: w.entries,
            maxBytes: w.bytes,
          })
        ).entries;
  const turnId = shadowTurnId(input.runId, rec.seq, cp.historyLength);
  const worker = await ctx.pool.pickShadow(input.agent, input.green);
  const s = rec.session;
  const base = turnRequestFor(2, {
    session: { id: s.id, agent: s.agent, version: input.green, tenant: s.tenant },
    checkpoint: cp,
    window,
    input: rec.input,
    turnId,
    deadline: ctx.clock.now() + ctx.limits.turnTimeoutMs,
    // read-only (no lease epoch): the ledger, the step journal and graph writes refuse it
    capability: await ctx.capabilities.issue(
      s.id,
      turnId,
      null,
      ctx.limits.turnTimeoutMs + ctx.limits.leaseMarginMs,
    ),
  }) as TurnRequest;
  const req: TurnRequest = { ...base, shadow: { effects: rec.effects, tools: rec.tools } };
  worker.outstanding++;
  try {
    const resp = await worker.client.turn(req, AbortSignal.timeout(ctx.limits.turnTimeoutMs));
    if (!resp || typeof resp !== 'object' || !resp.shadow)
      return { error: `worker ${worker.id} answered a shadow turn without a shadow report` };
    return { resp };
  } catch (e) {
    const shadow = (e as BatonError).details?.shadow as ShadowReport | undefined;
    return { error: e instanceof Error ? e.message : String(e), ...(shadow ? { shadow } : {}) };
  } finally {
    worker.outstanding--;
  }
}

export async function runShadow(ctx: ShadowContext, input: ShadowRunInput): Promise<ShadowRunResult> {
  const { spec } = input;
  const green = await ctx.versions.get(input.agent, input.green);
  // refuse up front when no worker of green honours shadow turns
  await ctx.pool.pickShadow(input.agent, input.green);
  const sessions = await blueSessions(ctx, input.agent, input.blue, spec.sessions * CANDIDATE_FACTOR);
  const candidates: TurnCandidate[] = [];
  const pairsBySession = new Map<string, Map<number, [CheckpointMeta, CheckpointMeta]>>();
  const bySession = new Map(sessions.map((s) => [s.id, s]));
  await mapLimit(sessions, 8, async (s) => {
    const c = await sessionCandidates(ctx.store, s, input.blue, spec.turnsPerSession * 3);
    candidates.push(...c.candidates);
    pairsBySession.set(s.id, c.pairs);
  });
  const picked = sampleTurns(candidates, spec);
  const judge =
    input.judge !== undefined
      ? input.judge
      : spec.judge
        ? pairwiseJudge({
            baseURL: spec.judge.baseURL,
            model: spec.judge.model,
            rubric: spec.judge.rubric,
            timeoutMs: spec.judge.timeout,
            ...(process.env.BATON_JUDGE_API_KEY ? { apiKey: process.env.BATON_JUDGE_API_KEY } : {}),
          })
        : null;
  const evaluators = ctx.evaluations?.list() ?? [];
  const effectCache = new Map<string, Promise<Map<string, EffectRecord[]>>>();
  const pairs: ShadowPair[] = [];
  const turns: ShadowTurnRecord[] = [];
  const skipped: ShadowRunResult['skipped'] = [];
  await mapLimit(picked, spec.concurrency, async (c) => {
    const session = bySession.get(c.sessionId)!;
    const pair = pairsBySession.get(c.sessionId)!.get(c.seq)!;
    let effects = effectCache.get(c.sessionId);
    if (!effects) effectCache.set(c.sessionId, (effects = effectsByTurn(ctx.store, c.sessionId)));
    const rec = await loadRecordedTurn(ctx.store, session, pair, await effects);
    if ('skip' in rec) {
      skipped.push({ sessionId: c.sessionId, seq: c.seq, reason: rec.skip });
      return;
    }
    let out: Awaited<ReturnType<typeof replay>>;
    try {
      out = await replay(ctx, input, rec, green);
    } catch (e) {
      if (e instanceof BatonError && e.code === 'SHADOW_UNSUPPORTED') throw e;
      out = { error: e instanceof Error ? e.message : String(e) };
    }
    if ('skip' in out) {
      skipped.push({ sessionId: c.sessionId, seq: c.seq, reason: out.skip });
      return;
    }
    const resp = 'resp' in out ? out.resp : null;
    const failed = resp === null;
    const report = resp ? resp.shadow : 'error' in out ? out.shadow : undefined;
    const errorText = 'error' in out ? out.error : undefined;
    const divergences = report?.divergences ?? [];
    const greenOutput = resp ? resp.output : null;
    const blueM = metricsOf(rec.telemetry, false);
    const greenM = metricsOf(resp?.telemetry, failed);
    if (!failed) {
      for (const ev of evaluators) {
        const turn = { sessionId: session.id, turnId: rec.turnId, input: rec.input };
        const [b, g] = await Promise.all([
          ev.evaluate({ ...turn, version: input.blue, output: rec.output }),
          ev.evaluate({ ...turn, version: input.green, output: greenOutput }),
        ]);
        if ('score' in b && 'score' in g) {
          blueM[`eval.${ev.name}`] = b.score;
          greenM[`eval.${ev.name}`] = g.score;
        }
      }
      if (judge && spec.judge) {
        const j = await judge.compare(rec.input, rec.output, greenOutput);
        if ('preference' in j) {
          blueM[`judge.${spec.judge.name}`] = 0;
          greenM[`judge.${spec.judge.name}`] = j.preference;
        }
      }
    }
    pairs.push({
      sessionId: session.id,
      turnId: rec.turnId,
      blue: blueM,
      green: greenM,
      divergent: divergences.length > 0,
      error: failed,
    });
    turns.push({
      sessionId: session.id,
      seq: rec.seq,
      ending: rec.ending,
      blue: { output: cut(rec.output), effects: rec.effects.map((e) => e.name) },
      green: {
        output: cut(greenOutput),
        effects: (report?.effects ?? []).map((e: { name: string }) => e.name),
        ...(errorText !== undefined ? { error: errorText } : {}),
      },
      divergences,
    });
  });
  const order = (a: { sessionId: string; seq?: number }, b: { sessionId: string; seq?: number }) =>
    a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : (a.seq ?? 0) - (b.seq ?? 0);
  turns.sort(order);
  skipped.sort(order);
  pairs.sort((a, b) =>
    a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : a.turnId < b.turnId ? -1 : 1,
  );
  const results = spec.gates.map((g) => evaluateShadowGate(g, pairs));
  const summary: ShadowSummary = {
    beforeStep: input.beforeStep,
    startedAt: 0,
    finishedAt: null,
    verdict: worstVerdict(results),
    sessions: new Set(pairs.map((p) => p.sessionId)).size,
    turns: pairs.length,
    failed: pairs.filter((p) => p.error).length,
    divergent: pairs.filter((p) => p.divergent).length,
    skipped: skipped.length,
    results,
  };
  return { summary, pairs, turns, skipped, results };
}

/** The decision evidence of a run: its summary, gates, and the replayed turns (bounded). */
export function shadowEvidence(runId: string, r: ShadowRunResult): Record<string, unknown> {
  return {
    runId,
    ...r.summary,
    gates: r.results,
    turnsListed: Math.min(r.turns.length, MAX_EVIDENCE_TURNS),
    replayed: r.turns.slice(0, MAX_EVIDENCE_TURNS),
    skippedTurns: r.skipped.slice(0, 50),
  };
}
