/**
 * The session half of the traffic API: creating sessions (session-create.ts), the session view,
 * feedback and ending a session under its lease.
 */
import {
  BatonError,
  TERMINAL_SESSION_STATUSES,
  type FeedbackSignal,
  type MigrationRecord,
  type SessionRecord,
  type SessionStatus,
} from '@baton/core';
import type { Lease } from '@baton/store';
import type { ServerContext } from './context';
import type { TurnEstimate } from './lease';
import { dropOwner, holdOwner, statusSeen, takeLease } from './lease';
import { versionFor } from './routing';
import { SessionCreator, type CreateSessionOptions, type CreatedSession } from './session-create';
import { publicWait, type PublicWait } from './waits';

export interface SessionView {
  sessionId: string;
  agent: string;
  tenant: string | null;
  version: string;
  status: SessionStatus;
  seq: number;
  reason: string | null;
  waits: PublicWait[];
  migrations: MigrationRecord[];
  createdAt: number;
  updatedAt: number;
  metadata: Record<string, unknown>;
}

/** SESSION_QUARANTINED or SESSION_CLOSED for a session in a terminal status. */
export function closedError(s: SessionRecord): BatonError {
  if (s.status === 'quarantined') {
    return new BatonError('SESSION_QUARANTINED', `session ${s.id} is quarantined`, {
      sessionId: s.id,
      reason: s.reason,
    });
  }
  return new BatonError('SESSION_CLOSED', `session ${s.id} is ${s.status}`, {
    sessionId: s.id,
    status: s.status,
  });
}

export class Sessions {
  private readonly creator: SessionCreator;
  private seqNo = 0;

  constructor(
    private readonly ctx: ServerContext,
    /** How long turns take here (the Retry-After hint of a busy `end`). */
    private readonly typicalTurn: TurnEstimate,
  ) {
    this.creator = new SessionCreator(ctx.store, ctx.clock, versionFor);
  }

  /** Creates a session; with an `Idempotency-Key`, a retry gets the same session and token (session-create.ts). */
  create(agent: string, opts: CreateSessionOptions = {}, idempotencyKey?: string): Promise<CreatedSession> {
    return this.creator.create(agent, opts, idempotencyKey);
  }

  async view(s: SessionRecord): Promise<SessionView> {
    const [waits, migrations] = await Promise.all([
      this.ctx.store.listWaits({ sessionId: s.id, status: 'pending' }),
      this.ctx.store.listMigrations({ sessionId: s.id }),
    ]);
    const status = statusSeen(s, this.ctx.clock.now());
    return {
      sessionId: s.id,
      agent: s.agent,
      tenant: s.tenant,
      version: s.version,
      status,
      seq: s.seq,
      reason: s.reason,
      waits: waits.map(publicWait),
      migrations,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
      metadata: s.metadata,
    };
  }

  /** Feedback on an open session (SESSION_CLOSED / SESSION_QUARANTINED once it ended). */
  async feedback(s: SessionRecord, signal: FeedbackSignal, value?: unknown): Promise<void> {
    if (TERMINAL_SESSION_STATUSES.includes(s.status)) throw closedError(s);
    const metrics =
      typeof value === 'number' && Number.isFinite(value) ? { [`feedback.${signal}`]: value } : undefined;
    await this.ctx.store.recordSessionMetrics(s.id, s.version, {
      signals: { [signal]: 1 },
      ...(metrics ? { metrics } : {}),
    });
  }

  /** End a session: status `completed` under the lease; idempotent for an already completed session. */
  async end(s: SessionRecord): Promise<SessionView> {
    const { store } = this.ctx;
    if (s.status === 'completed') return this.view(s);
    if (TERMINAL_SESSION_STATUSES.includes(s.status)) throw closedError(s);
    const owner = `${this.ctx.instanceId}:end:${++this.seqNo}`;
    holdOwner(owner);
    let lease: Lease;
    try {
      lease = await takeLease(this.ctx, this.typicalTurn, s.id, () =>
        store.acquireLease(s.id, owner, this.ctx.limits.leaseMs),
      );
    } catch (e) {
      dropOwner(owner);
      throw e;
    }
    let cur: SessionRecord;
    try {
      cur = await store.getSession(s.id);
      if (cur.status !== 'completed') {
        if (TERMINAL_SESSION_STATUSES.includes(cur.status)) throw closedError(cur);
        cur = await store.updateSession(s.id, { seq: cur.seq, status: cur.status }, { status: 'completed' });
      }
    } finally {
      await store.releaseLease(lease).catch(() => undefined);
      dropOwner(owner);
    }
    await store.markSessionCompleted(s.id);
    return this.view(await store.getSession(s.id));
  }
}
