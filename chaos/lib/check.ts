/**
 * After a run: the invariants of the design (§6) checked from the store itself (opened directly,
 * every server stopped) and from the side channel the agent wrote outside Baton.
 */
import { openStore, type Store } from '@baton/store';
import type { CheckpointMeta, Decision, DecisionKind, EffectRecord, SessionRecord } from '@baton/core';
import { AGENT, stateSchema } from '../agent';
import type { CompensationPhase } from './compensate';
import type { Crash } from './faults';
import { sideLines, type LoadStats, type TrackedSession } from './load';

/** Decisions a rollout takes at most once (per step where they carry one): a repeat is a bug. */
const ONCE_PER_STEP: ReadonlySet<string> = new Set<DecisionKind>([
  'created',
  'promoted',
  'step-started',
  'drain-started',
  'drain-complete',
]);
/** A gate evaluation's verdicts: each must carry its gates' evidence. */
const GATE_VERDICTS: ReadonlySet<string> = new Set<DecisionKind>([
  'gates-passed',
  'gates-failed',
  'gates-fail-deferred',
  'gates-inconclusive',
]);

export interface Findings {
  sessionsInStore: number;
  /** Sessions the load created that the store does not have. */
  sessionsLost: string[];
  /** Sessions of the agent in the store that the load never got an id for (a creation repeated). */
  sessionsExtra: string[];
  /** On a version that does not exist, or quarantined, or failed. */
  sessionsBadStatus: string[];
  /** Sessions whose kept checkpoint sequence has a hole, or does not start at 1. */
  checkpointGaps: string[];
  /** Checkpoints ≠ committed actions + successful migrations. */
  checkpointCountMismatch: string[];
  /** The latest state: turns applied twice (`dupes`), or `count` ≠ the actions the load saw commit. */
  turnsDoubleApplied: string[];
  turnsLostOrExtra: string[];
  /** A latest checkpoint or a history entry that fails to read (hash check), or a state failing its version's schema. */
  corruptOrInvalid: string[];
  migrationsOk: number;
  migrationsFailed: number;
  /** A failed migration without a reason, or a session not on the version its last migration says. */
  migrationMismatch: string[];
  effects: Record<string, number>;
  /** Side channel: effect keys that ran more than once. */
  duplicateEffects: string[];
  /** Ledger `intent` at the end. */
  effectsInDoubtAtEnd: string[];
  /** In doubt during the run although the worker that began it was not killed. */
  inDoubtNotExcused: string[];
  /** In doubt because the effect ran after its turn's deadline. */
  inDoubtPastDeadline: number;
  /** Ran (side channel) but the ledger does not say committed. */
  ranNotCommitted: string[];
  /** Committed in the ledger (not by an operator) without having run. */
  committedNotRan: string[];
  rollouts: Array<{ id: string; from: string; to: string; phase: string }>;
  /** Rollouts not promoted and drained by the end. */
  rolloutsUnfinished: string[];
  /** A step started twice, a second promotion: the controller repeated a decision. */
  decisionsRepeated: string[];
  /** Gate decisions without evidence. */
  gateDecisionsWithoutEvidence: string[];
  gateDecisions: number;
  /** The compensation phase: chosen effects not compensated at the end. */
  compensationsNotDone: string[];
  /** Side channel: an undo (a compensation's own effect) that ran more than once for one effect. */
  undosTwice: string[];
  /** Recorded `compensated` although no undo ran for it (side channel). */
  compensatedWithoutUndo: string[];
  /** An undo ran (side channel) for an effect the ledger does not say is compensated. */
  undoneNotRecorded: string[];
  compensationsDone: number;
}

/** What may leave an effect in doubt: the crash of the worker running it, or (one router) of the router. */
export interface Excuses {
  crashes: Crash[];
  routerCrashLeavesDoubt: boolean;
  turnTimeoutMs: number;
  compensation: CompensationPhase | null;
}

async function all<T>(page: (cursor: string | null) => Promise<{ items: T[]; nextCursor: string | null }>) {
  const out: T[] = [];
  for (let cursor: string | null = null; ;) {
    const p = await page(cursor);
    out.push(...p.items);
    if (!p.nextCursor) return out;
    cursor = p.nextCursor;
  }
}

async function allCheckpoints(store: Store, id: string): Promise<CheckpointMeta[]> {
  const out: CheckpointMeta[] = [];
  for (let before: number | undefined; ;) {
    const page = await store.listCheckpoints(id, { limit: 500, ...(before ? { beforeSeq: before } : {}) });
    out.push(...page);
    if (page.length < 500) break;
    before = page.at(-1)!.seq;
  }
  return out.sort((a, b) => a.seq - b.seq);
}

export async function checkStore(
  target: string,
  schema: string | null,
  sessions: Map<string, TrackedSession>,
  stats: LoadStats,
  sideFile: string,
  excuses: Excuses,
): Promise<Findings> {
  const store = await openStore(target, schema ? { schema } : {});
  try {
    return await check(store, sessions, stats, sideFile, excuses);
  } finally {
    await store.close();
  }
}

async function check(
  store: Store,
  tracked: Map<string, TrackedSession>,
  stats: LoadStats,
  sideFile: string,
  excuses: Excuses,
): Promise<Findings> {
  const f: Findings = {
    sessionsInStore: 0,
    sessionsLost: [],
    sessionsExtra: [],
    sessionsBadStatus: [],
    checkpointGaps: [],
    checkpointCountMismatch: [],
    turnsDoubleApplied: [],
    turnsLostOrExtra: [],
    corruptOrInvalid: [],
    migrationsOk: 0,
    migrationsFailed: 0,
    migrationMismatch: [],
    effects: {},
    duplicateEffects: [],
    effectsInDoubtAtEnd: [],
    inDoubtNotExcused: [],
    inDoubtPastDeadline: 0,
    ranNotCommitted: [],
    committedNotRan: [],
    rollouts: [],
    rolloutsUnfinished: [],
    decisionsRepeated: [],
    gateDecisionsWithoutEvidence: [],
    gateDecisions: 0,
    compensationsNotDone: [],
    undosTwice: [],
    compensatedWithoutUndo: [],
    undoneNotRecorded: [],
    compensationsDone: 0,
  };
  const versions = new Map((await store.listVersions(AGENT)).map((v) => [v.label, v]));
  const inStore: SessionRecord[] = await all((cursor) =>
    store.listSessions({ agent: AGENT, limit: 500, cursor }),
  );
  f.sessionsInStore = inStore.length;
  const byId = new Map(inStore.map((s) => [s.id, s]));
  for (const id of tracked.keys()) if (!byId.has(id)) f.sessionsLost.push(id);
  for (const s of inStore) if (!tracked.has(s.id)) f.sessionsExtra.push(s.id);

  for (const s of inStore) {
    const t = tracked.get(s.id);
    const v = versions.get(s.version);
    if (!v || s.status === 'quarantined' || s.status === 'failed')
      f.sessionsBadStatus.push(`${s.id}: ${s.version} ${s.status} ${s.reason ?? ''}`);
    const cps = await allCheckpoints(store, s.id);
    const migrations = await store.listMigrations({ sessionId: s.id, limit: 1000 });
    const ok = migrations.filter((m) => m.status === 'ok');
    f.migrationsOk += ok.length;
    f.migrationsFailed += migrations.length - ok.length;
    for (const m of migrations)
      if (m.status === 'failed' && !m.error)
        f.migrationMismatch.push(`${s.id}: failed migration without reason`);
    const last = ok.sort((a, b) => a.seq - b.seq).at(-1);
    if (last && last.toVersion !== s.version && !migrations.some((m) => m.seq > last.seq))
      f.migrationMismatch.push(`${s.id}: on ${s.version}, last migration to ${last.toVersion}`);
    // with compaction off (the run keeps every checkpoint) the sequence is exactly 1..seq
    const seqs = cps.map((c) => c.seq);
    if (seqs.some((q, i) => q !== i + 1) || (seqs.at(-1) ?? 0) !== s.seq)
      f.checkpointGaps.push(`${s.id}: seqs ${seqs.join(',')} (session seq ${s.seq})`);
    if (!t) continue;
    // a migration appends no history, a turn does; a migration of a session with no state yet
    // writes no checkpoint of its own (its record names the first turn's)
    const bySeq = new Map(cps.map((c) => [c.seq, c]));
    const migrationCheckpoints = ok.filter((m) => {
      const c = bySeq.get(m.seq);
      const prev = bySeq.get(m.seq - 1);
      return !!c && !!prev && c.historyLength === prev.historyLength;
    }).length;
    const turnCheckpoints = cps.length - migrationCheckpoints;
    if (turnCheckpoints !== t.committed)
      f.checkpointCountMismatch.push(
        `${s.id}: ${cps.length} checkpoints, ${t.committed} committed actions, ${migrationCheckpoints} migrations`,
      );
    if (cps.length === 0) continue;
    try {
      const latest = await store.getLatestCheckpoint(s.id);
      const gen = latest!.schemaVersion;
      if (v && gen !== v.schemaVersion) f.corruptOrInvalid.push(`${s.id}: schema ${gen} on ${s.version}`);
      const state = stateSchema(gen).safeParse(latest!.body.state);
      if (!state.success) f.corruptOrInvalid.push(`${s.id}: state fails schema ${gen}`);
      else {
        if (state.data.dupes > 0) f.turnsDoubleApplied.push(`${s.id}: ${state.data.dupes}`);
        if (state.data.count !== t.committed)
          f.turnsLostOrExtra.push(`${s.id}: state count ${state.data.count}, committed ${t.committed}`);
      }
      for (let before: number | undefined; ;) {
        const page = await store.readHistory(s.id, {
          limit: 1000,
          ...(before !== undefined ? { before } : {}),
        });
        if (page.nextBefore === null) break;
        before = page.nextBefore;
      }
    } catch (e) {
      f.corruptOrInvalid.push(`${s.id}: ${(e as Error).message}`);
    }
  }

  // effects: the ledger against the side channel
  const everyEffect: EffectRecord[] = await all((cursor) =>
    store.listEffects({ agent: AGENT, limit: 500, cursor }),
  );
  // a compensation's own effects are checked with the compensations, below
  const effects = everyEffect.filter((e) => !e.compensates);
  const undoEffects = everyEffect.filter((e) => e.compensates);
  const lines = sideLines(sideFile);
  const runs = new Map<string, number>();
  const beganBy = new Map<string, number>();
  for (const l of lines) {
    if (l.e === 'run') runs.set(l.key, (runs.get(l.key) ?? 0) + 1);
    if (l.e === 'begin' && !beganBy.has(l.key)) beganBy.set(l.key, l.pid);
  }
  for (const [key, n] of runs) if (n > 1) f.duplicateEffects.push(`${key}: ran ${n} times`);
  const ledger = new Map(effects.map((e) => [e.idempotencyKey, e]));
  for (const e of undoEffects) if (e.status === 'intent') f.effectsInDoubtAtEnd.push(e.idempotencyKey);
  for (const e of effects) {
    f.effects[e.status] = (f.effects[e.status] ?? 0) + 1;
    if (e.status === 'intent') f.effectsInDoubtAtEnd.push(e.idempotencyKey);
    if (e.status === 'committed' && !runs.has(e.idempotencyKey) && e.resolution?.status !== 'committed')
      f.committedNotRan.push(e.idempotencyKey);
  }
  for (const key of runs.keys()) {
    const e = ledger.get(key);
    if (!e || e.status !== 'committed') f.ranNotCommitted.push(`${key}: ${e?.status ?? 'not in the ledger'}`);
  }
  const beganAt = new Map<string, number>();
  const tried = new Map<string, Array<{ pid: number; at: number }>>();
  for (const l of lines) {
    if (l.e === 'begin' && !beganAt.has(l.key)) beganAt.set(l.key, l.at);
    if (l.e === 'try') tried.set(l.key, [...(tried.get(l.key) ?? []), { pid: l.pid, at: l.at }]);
  }
  for (const d of stats.inDoubt) {
    const began = d.beganBy ?? beganBy.get(d.key) ?? null;
    // never began: an attempt that reached the effect recorded the intent and died before the run
    const pids = began !== null ? [began] : (tried.get(d.key) ?? []).map((t) => t.pid);
    const pid = pids.length ? pids.join('/') : null;
    const at = beganAt.get(d.key) ?? tried.get(d.key)?.[0]?.at ?? null;
    // in doubt for a reason: the worker running it died; or, with one router, the router died
    // while the turn ran (the worker's commit cannot outlast the restart). Else a commit was lost.
    const workerDied = excuses.crashes.some((c) => c.role === 'worker' && pids.includes(c.pid));
    const routerDied =
      excuses.routerCrashLeavesDoubt &&
      at !== null &&
      excuses.crashes.some((c) => c.role === 'server' && c.at >= at && c.at <= at + excuses.turnTimeoutMs);
    // or the effect ran after its turn's deadline (a stalled worker, as `worker-hang` makes one):
    // its capability may have died before its commit
    const ranAt = lines.find((l) => l.e === 'run' && l.key === d.key)?.at ?? null;
    const firstTry = tried.get(d.key)?.[0]?.at ?? null;
    const pastDeadline = ranAt !== null && firstTry !== null && ranAt > firstTry + excuses.turnTimeoutMs;
    if (pastDeadline && !workerDied && !routerDied) f.inDoubtPastDeadline += 1;
    else if (!workerDied && !routerDied)
      f.inDoubtNotExcused.push(`${d.key}: began by ${pid ?? 'nobody'}, ran ${d.ran}`);
  }

  // compensations: every chosen effect compensated, each undo run exactly once, none recorded
  // without having run
  const undos = new Map<string, number>();
  for (const l of lines) if (l.e === 'undo-run') undos.set(l.key, (undos.get(l.key) ?? 0) + 1);
  for (const [key, n] of undos) if (n > 1) f.undosTwice.push(`${key}: undone ${n} times`);
  for (const e of effects) {
    if (e.compensationState === 'compensated') {
      f.compensationsDone += 1;
      if (!undos.has(e.idempotencyKey)) f.compensatedWithoutUndo.push(`${e.id} (${e.idempotencyKey})`);
    } else if (undos.has(e.idempotencyKey))
      f.undoneNotRecorded.push(`${e.id} (${e.idempotencyKey}): ${e.compensationState}`);
  }
  const byEffectId = new Map(effects.map((e) => [e.id, e]));
  for (const id of excuses.compensation?.chosen.keys() ?? [])
    if (byEffectId.get(id)?.compensationState !== 'compensated')
      f.compensationsNotDone.push(`${id}: ${byEffectId.get(id)?.compensationState ?? 'not in the ledger'}`);

  // rollouts: finished, and no decision taken twice
  for (const r of await store.listRollouts({ agent: AGENT })) {
    const rec = r;
    f.rollouts.push({ id: rec.id, from: rec.from, to: rec.to, phase: rec.phase });
    const decisions: Decision[] = [];
    for (let after = 0; ;) {
      const page = await store.listDecisions(rec.id, { afterSeq: after, limit: 500 });
      decisions.push(...page);
      if (page.length < 500) break;
      after = page.at(-1)!.seq;
    }
    const once = new Map<string, number>();
    for (const d of decisions) {
      const ev = d.evidence as { step?: number; index?: number } | undefined;
      if (ONCE_PER_STEP.has(d.kind)) {
        const k = `${d.kind}#${ev?.step ?? ev?.index ?? ''}`;
        once.set(k, (once.get(k) ?? 0) + 1);
      }
      if (GATE_VERDICTS.has(d.kind)) {
        f.gateDecisions += 1;
        const gates = (d.evidence as { gates?: unknown[] } | undefined)?.gates;
        if (!Array.isArray(gates) || gates.length === 0)
          f.gateDecisionsWithoutEvidence.push(`${rec.id}#${d.seq}`);
      }
    }
    for (const [k, n] of once) if (n > 1) f.decisionsRepeated.push(`${rec.id}: ${k} ×${n}`);
    if (rec.phase !== 'promoted') f.rolloutsUnfinished.push(`${rec.id}: ${rec.phase}`);
  }
  return f;
}
