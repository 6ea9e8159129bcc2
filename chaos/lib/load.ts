/**
 * Steady load: simulated users, each creating sessions (with an Idempotency-Key) and driving them
 * turn by turn — a message, or the callback of the wait the last turn left — through whichever
 * server answers, as clients behind a load balancer would. Every action is retried with the same
 * key until it commits; an effect left in doubt is resolved as an operator would, by looking at
 * the outside world (the side channel says whether it really ran). A tenth of the turns are sent
 * twice at once, to two servers, with the same key.
 */
import { readFileSync } from 'node:fs';
import { endsWaiting, type SideLine } from '../agent';
import { call, NoAnswer, sleep, type Res } from './http';
import type { Tokens } from './fleet';
import { rng } from './schedule';

export interface TrackedSession {
  id: string;
  token: string;
  /** Actions (message turns and callbacks) known committed, in order. */
  committed: number;
  /** The token of the wait the last turn left, if the session is waiting. */
  wait: string | null;
  ended: boolean;
}

export interface InDoubt {
  key: string;
  effectId: string;
  /** Whether the side channel shows the effect ran (the operator's resolution follows it). */
  ran: boolean;
  /** PID of the worker that began running it, if it did. */
  beganBy: number | null;
  resolvedAs: 'committed' | 'failed' | 'lost-race';
}

export interface LoadStats {
  sessionsCreated: number;
  turnsAttempted: number;
  turnsCommitted: number;
  callbacksAttempted: number;
  callbacksCommitted: number;
  /** Attempts after the first, over every action. */
  retries: number;
  /** Error codes answered, by code (NO_ANSWER_REFUSED / NO_ANSWER_CUT for no answer at all). */
  errors: Record<string, number>;
  /** Actions given up after the action timeout. */
  abandoned: string[];
  /** Answers the contract does not allow here (a bug, or the check's own). */
  unexpected: string[];
  inDoubt: InDoubt[];
  /** For each action cut by a crash: ms from the cut until an attempt got past SESSION_BUSY. */
  busyAfterCut: number[];
  /** Duplicate concurrent sends with the same key that did not get the same answer. */
  duplicateMismatches: number;
  duplicateSends: number;
  /**
   * Turns committed waiting whose answer did not carry the wait's token: a wait token is shown
   * once, in the first answer of the turn that created it; a replayed answer (a retry or a
   * duplicate with the same key) lists the wait without it. The session's wait then runs to its
   * deadline (a figure, not a fault: the documented contract).
   */
  waitTokensNotShown: number;
}

export interface LoadOptions {
  seed: number;
  users: number;
  servers: () => string[];
  tokens: Tokens;
  sideFile: string;
  /** An action not committed after this long is abandoned (and reported). */
  actionTimeoutMs: number;
  requestTimeoutMs: number;
  /** How long an effect in doubt may still be settled by the attempt that began it. */
  settleWindowMs: number;
  runId: string;
}

const RETRYABLE = new Set([
  'SESSION_BUSY',
  'LEASE_LOST',
  'SEQUENCE_CONFLICT',
  'WORKER_ERROR',
  'NO_WORKER',
  'TURN_TIMEOUT',
  'STATE_INVALID',
  'TURN_FAILED',
  'STORE_UNAVAILABLE',
  'INTERNAL',
  'NOT_JSON',
]);

export class Load {
  readonly stats: LoadStats = {
    sessionsCreated: 0,
    turnsAttempted: 0,
    turnsCommitted: 0,
    callbacksAttempted: 0,
    callbacksCommitted: 0,
    retries: 0,
    errors: {},
    abandoned: [],
    unexpected: [],
    inDoubt: [],
    busyAfterCut: [],
    duplicateMismatches: 0,
    waitTokensNotShown: 0,
    duplicateSends: 0,
  };
  readonly sessions = new Map<string, TrackedSession>();
  private stopping = false;
  private users: Array<Promise<void>> = [];
  private rr = 0;

  constructor(private readonly o: LoadOptions) {}

  start(): void {
    for (let u = 0; u < this.o.users; u++) this.users.push(this.user(u));
  }

  /** Stop starting actions; resolves when every user finished the action it was in. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.users);
  }

  /** Resume every session still waiting (their callbacks must land on whatever version owns them). */
  async resumeWaiting(): Promise<void> {
    const waiting = [...this.sessions.values()].filter((s) => s.wait && !s.ended);
    let i = 0;
    const lanes = Array.from({ length: this.o.users }, async () => {
      for (let s = waiting[i++]; s; s = waiting[i++]) await this.act(s);
    });
    await Promise.all(lanes);
  }

  private count(code: string): void {
    this.stats.errors[code] = (this.stats.errors[code] ?? 0) + 1;
  }

  private async user(u: number): Promise<void> {
    const r = rng(this.o.seed * 1000 + u);
    for (let i = 0; !this.stopping; i++) {
      const s = await this.createSession(`${this.o.runId}-u${u}-s${i}`, u);
      if (!s) continue;
      const actions = 3 + Math.floor(r() * 7);
      for (let n = 0; n < actions && !this.stopping; n++) {
        if (!(await this.act(s, r() < 0.1))) break;
        await sleep(50 + r() * 250);
      }
      // leave it waiting (the end resumes it), idle (eager migration moves it), or end it
      if (!s.wait && r() < 0.4 && !this.stopping) await this.end(s);
    }
  }

  private pick(attempt: number): string {
    const urls = this.o.servers();
    return urls[(this.rr++ + attempt) % urls.length]!;
  }

  /**
   * Sends `send` to a server until it answers something other than a retryable error; returns the
   * answer, or null when the action is abandoned.
   */
  private async persist(what: string, send: (base: string) => Promise<Res>): Promise<Res | null> {
    const t0 = Date.now();
    let cutAt: number | null = null;
    let doubtSince: number | null = null;
    for (let attempt = 0; ; attempt++) {
      if (Date.now() - t0 > this.o.actionTimeoutMs) {
        this.stats.abandoned.push(`${what}: not done after ${this.o.actionTimeoutMs} ms`);
        return null;
      }
      if (attempt > 0) this.stats.retries += 1;
      const startedAt = Date.now();
      let res: Res;
      try {
        res = await send(this.pick(attempt));
      } catch (e) {
        if (!(e instanceof NoAnswer)) throw e;
        this.count(`NO_ANSWER_${e.kind.toUpperCase()}`);
        if (e.kind === 'cut' && cutAt === null) cutAt = Date.now();
        await sleep(50);
        continue;
      }
      const code = (res.body as { error?: { code?: string } } | undefined)?.error?.code;
      if (cutAt !== null && code !== 'SESSION_BUSY') {
        this.stats.busyAfterCut.push(startedAt - cutAt);
        cutAt = null;
      }
      if (res.status < 300) return res;
      this.count(code ?? `HTTP_${res.status}`);
      if (code && RETRYABLE.has(code)) {
        const hint = Number((res.body as any).error?.details?.retryAfterMs);
        await sleep(code === 'SESSION_BUSY' ? Math.min(Number.isFinite(hint) ? hint : 100, 250) : 200);
        continue;
      }
      if (code === 'EFFECT_IN_DOUBT') {
        // the attempt that began the effect may still settle it (a late commit): an operator
        // steps in only once that cannot happen any more (its capability outlived)
        doubtSince ??= Date.now();
        if (Date.now() - doubtSince < this.o.settleWindowMs) await sleep(250);
        else await this.resolveInDoubt(what);
        continue;
      }
      return res;
    }
  }

  private async createSession(key: string, u: number): Promise<TrackedSession | null> {
    const body = { metadata: { user: u } };
    let first: string | null = null;
    const res = await this.persist(`create ${key}`, async (base) => {
      const r = await call(base, 'POST', '/v1/agents/chaos/sessions', {
        token: this.o.tokens.traffic,
        body,
        headers: { 'idempotency-key': key },
        timeoutMs: this.o.requestTimeoutMs,
      });
      if (r.status < 300) {
        first ??= r.body.sessionId as string;
        if (r.body.sessionId !== first)
          this.stats.unexpected.push(`create ${key}: a retry gave another session`);
      }
      return r;
    });
    if (!res) return null;
    if (res.status >= 300) {
      this.stats.unexpected.push(`create ${key}: ${res.status} ${JSON.stringify(res.body)}`);
      return null;
    }
    const s: TrackedSession = {
      id: res.body.sessionId,
      token: res.body.sessionToken,
      committed: 0,
      wait: null,
      ended: false,
    };
    if (!this.sessions.has(s.id)) this.stats.sessionsCreated += 1;
    this.sessions.set(s.id, s);
    return s;
  }

  /** The session's next action: the callback of its wait, or its next message. True if committed. */
  private async act(s: TrackedSession, duplicate = false): Promise<boolean> {
    const n = s.committed;
    if (s.wait) {
      const token = s.wait;
      this.stats.callbacksAttempted += 1;
      let sent = false;
      const res = await this.persist(`callback ${s.id}#${n}`, (base) => {
        const p = call(base, 'POST', `/v1/callbacks/${token}`, {
          token: this.o.tokens.traffic,
          body: { payload: { n } },
          timeoutMs: this.o.requestTimeoutMs,
        });
        return p.finally(() => (sent = true));
      });
      if (!res) return false;
      const code = res.body?.error?.code;
      // a retried callback whose first attempt committed finds its wait resolved
      if (res.status >= 300 && !(code === 'WAIT_RESOLVED' && sent)) {
        this.stats.unexpected.push(`callback ${s.id}#${n}: ${res.status} ${JSON.stringify(res.body)}`);
        return false;
      }
      s.wait = null;
      s.committed += 1;
      this.stats.callbacksCommitted += 1;
      if (res.status < 300) this.afterTurn(s, n, res.body);
      return true;
    }
    this.stats.turnsAttempted += 1;
    const key = `${s.id}:t${n}`;
    const once = () =>
      this.persist(`turn ${key}`, (base) =>
        call(base, 'POST', `/v1/sessions/${s.id}/turns`, {
          token: this.o.tokens.traffic,
          body: { input: { n } },
          headers: { 'x-session-token': s.token, 'idempotency-key': key },
          timeoutMs: this.o.requestTimeoutMs,
        }),
      );
    const answers = await Promise.all(duplicate ? [once(), once()] : [once()]);
    // the first answer that shows the new wait's token (the other is a replay, shown without it)
    const res = answers.find((a) => a?.status === 200 && tokenOf(a.body) !== null) ?? answers[0]!;
    if (duplicate) {
      this.stats.duplicateSends += 1;
      const [a, b] = answers;
      if (
        a &&
        b &&
        (a.status !== b.status || a.body?.turnId !== b.body?.turnId || a.body?.seq !== b.body?.seq)
      )
        this.stats.duplicateMismatches += 1;
    }
    if (!res) return false;
    if (res.status >= 300) {
      this.stats.unexpected.push(`turn ${key}: ${res.status} ${JSON.stringify(res.body)}`);
      return false;
    }
    s.committed += 1;
    this.stats.turnsCommitted += 1;
    this.afterTurn(s, n, res.body);
    if (endsWaiting(n) && !s.wait) {
      if (res.body?.status === 'waiting' && Array.isArray(res.body?.waits) && res.body.waits.length > 0)
        this.stats.waitTokensNotShown += 1;
      else this.stats.unexpected.push(`turn ${key}: no wait left`);
    }
    return true;
  }

  private afterTurn(s: TrackedSession, n: number, body: any): void {
    if (body?.output?.n !== n)
      this.stats.unexpected.push(`${s.id}#${n}: output ${JSON.stringify(body?.output)}`);
    s.wait = body?.status === 'waiting' ? tokenOf(body) : null;
  }

  private async end(s: TrackedSession): Promise<void> {
    const res = await this.persist(`end ${s.id}`, (base) =>
      call(base, 'POST', `/v1/sessions/${s.id}/end`, {
        token: this.o.tokens.traffic,
        headers: { 'x-session-token': s.token },
        timeoutMs: this.o.requestTimeoutMs,
      }),
    );
    if (res && res.status < 300) s.ended = true;
    else if (res) this.stats.unexpected.push(`end ${s.id}: ${res.status} ${JSON.stringify(res.body)}`);
  }

  /** The operator's part: every effect of the session still `intent` is resolved from the side channel. */
  private async resolveInDoubt(what: string): Promise<void> {
    const sessionId = /(ses_[A-Za-z0-9_-]+)/.exec(what)?.[1];
    if (!sessionId) return;
    const admin = this.o.tokens.admin;
    let list: Res | null = null;
    for (const base of this.o.servers()) {
      try {
        list = await call(base, 'GET', `/v1/effects?session=${sessionId}&status=intent`, { token: admin });
        if (list.status === 200) break;
      } catch {
        // next server
      }
    }
    const items = (list?.body?.items ?? []) as Array<{ id: string; idempotencyKey: string }>;
    const lines = sideLines(this.o.sideFile);
    for (const e of items) {
      const began = lines.find((l) => l.e === 'begin' && l.key === e.idempotencyKey);
      const ran = lines.some((l) => l.e === 'run' && l.key === e.idempotencyKey);
      const body = ran
        ? {
            status: 'committed',
            result: { sent: e.idempotencyKey },
            by: 'chaos-operator',
            reason: 'side channel shows it ran',
          }
        : {
            status: 'failed',
            error: 'never ran',
            by: 'chaos-operator',
            reason: 'side channel shows it did not run',
          };
      let resolvedAs: InDoubt['resolvedAs'] | null = null;
      for (const base of this.o.servers()) {
        try {
          const r = await call(base, 'POST', `/v1/effects/${e.id}/resolve`, { token: admin, body });
          if (r.status === 200) resolvedAs = ran ? 'committed' : 'failed';
          else if (r.status === 409) resolvedAs = 'lost-race';
          else continue;
          break;
        } catch {
          // next server
        }
      }
      if (resolvedAs && resolvedAs !== 'lost-race')
        this.stats.inDoubt.push({
          key: e.idempotencyKey,
          effectId: e.id,
          ran,
          beganBy: began ? began.pid : null,
          resolvedAs,
        });
    }
  }
}

export function sideLines(file: string): SideLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: SideLine[] = [];
  for (const l of text.split('\n')) {
    if (!l) continue;
    try {
      out.push(JSON.parse(l) as SideLine);
    } catch {
      // a line cut by a SIGKILL mid-write: it did not happen
    }
  }
  return out;
}

/** The token of the first wait an answer shows, if it shows one. */
function tokenOf(body: any): string | null {
  const wait = (body?.waits as Array<{ token?: string }> | undefined)?.[0];
  return typeof wait?.token === 'string' ? wait.token : null;
}
