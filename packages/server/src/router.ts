/**
 * The router: the traffic half of HTTP API v1, one object over its capabilities. Sessions
 * (sessions.ts: creation by the agent's routing table, deterministic per session id; view,
 * feedback, end), turns (turns.ts: begin → migrate → load → dispatch → commit under the session
 * lease), callbacks and wait deadlines (callbacks.ts; the controller fires deadlines through the
 * `WaitExpiry` port).
 *
 * Hot path store calls per turn: three (two while the route is cached). beginTurn (one write transaction: the session
 * token checked first, stored result, lease, session, latest checkpoint, the version's history
 * window and the agent's route revision; grouped like the commits), getRoute only when the cached
 * route is older than `limits.routeCacheMs` (1 s) or of another revision than beginTurn read, and
 * appendCheckpoint (group commit: only the changed parts and the turn's history entries are
 * written). Workers get the window, never the whole history, and a turn capability (bound to the
 * lease epoch) to page the rest. Off the hot path: a migration, a replayed key (the session is read
 * for its metrics) and the first turn here of a session whose version has its own history window
 * when the store cannot choose the window from the session it reads (PostgreSQL reads the session
 * and the window in one statement) or this router has not read that version yet.
 */
import type { FeedbackSignal, SessionRecord, TurnInput } from '@baton/core';
import { Callbacks } from './callbacks';
import type { ServerContext } from './context';
import { TurnEstimate } from './lease';
import type { CreateSessionOptions, CreatedSession } from './session-create';
import { Sessions, type SessionView } from './sessions';
import type { TurnOptions, TurnResult } from './turn-types';
import { Turns } from './turns';
import type { WaitExpiry } from './wait-expiry';

export type { PublicWait } from './waits';
export type { SessionView } from './sessions';
export { turnIdOf, type TurnEvent, type TurnOptions, type TurnResult } from './turn-types';
export { moveDue, versionFor } from './routing';

export class Router implements WaitExpiry {
  private readonly sessions: Sessions;
  private readonly turns: Turns;
  private readonly callbacks: Callbacks;

  constructor(ctx: ServerContext) {
    const typicalTurn = new TurnEstimate(ctx.limits.leaseRenewMs);
    this.sessions = new Sessions(ctx, typicalTurn);
    this.turns = new Turns(ctx, typicalTurn);
    this.callbacks = new Callbacks(ctx, (id, input, key, opts) => this.turns.turn(id, input, key, opts));
  }

  /** Creates a session; with an `Idempotency-Key`, a retry gets the same session and token (session-create.ts). */
  createSession(
    agent: string,
    opts: CreateSessionOptions = {},
    idempotencyKey?: string,
  ): Promise<CreatedSession> {
    return this.sessions.create(agent, opts, idempotencyKey);
  }

  view(s: SessionRecord): Promise<SessionView> {
    return this.sessions.view(s);
  }

  feedback(s: SessionRecord, signal: FeedbackSignal, value?: unknown): Promise<void> {
    return this.sessions.feedback(s, signal, value);
  }

  end(s: SessionRecord): Promise<SessionView> {
    return this.sessions.end(s);
  }

  /** Run one turn (turns.ts). */
  turn(sessionId: string, input: TurnInput, key: string, opts: TurnOptions = {}): Promise<TurnResult> {
    return this.turns.turn(sessionId, input, key, opts);
  }

  validatePayload(schema: Record<string, unknown> | null, payload: unknown): void {
    this.callbacks.validatePayload(schema, payload);
  }

  callback(presented: string, payload: unknown, onEvent?: TurnOptions['onEvent']): Promise<TurnResult> {
    return this.callbacks.callback(presented, payload, onEvent);
  }

  expireWait(token: string): Promise<TurnResult | null> {
    return this.callbacks.expireWait(token);
  }
}
