/**
 * Simulated users of the support agent. Each one has an order and a goal, sends its messages one
 * turn at a time, judges every answer against the truth of its own order (thumbs down when
 * wrong), notices when the agent forgot the order it was told earlier (a lost context), and,
 * when a refund waits for a human's approval, has the approver answer the callback later.
 *
 * The same users drive Baton over HTTP and the naive cutover simulation, through `Transport`.
 */
import { BatonError } from '@baton/core';
import { judgeAnswer, seeded, simulatedUser } from '@baton/example-support-agent';
import type { SimulatedUser } from '@baton/example-support-agent';

export interface TurnOutcome {
  output: unknown;
  status: string;
  version: string;
  /** `token` only on the answer of the turn that created the wait (a replayed answer has none). */
  waits: Array<{ token?: string; name: string }>;
}

export interface Transport {
  create(): Promise<{ id: string; version: string; token: string }>;
  turn(id: string, token: string, message: string, key: string): Promise<TurnOutcome>;
  callback(waitToken: string, payload: unknown): Promise<TurnOutcome>;
  feedback(id: string, token: string, signal: 'thumbs_up' | 'thumbs_down'): Promise<void>;
  end(id: string, token: string): Promise<void>;
}

export interface PopulationStats {
  conversations: number;
  finished: number;
  turns: number;
  turnErrors: number;
  retries: number;
  busyRetries: number;
  answers: number;
  wrongAnswers: number;
  thumbsDown: number;
  /** Answers after the user had told its order that no longer knew it. */
  contextLosses: number;
  /** Sessions with at least one lost context. */
  sessionsWithLostContext: Set<string>;
  callbacksSent: number;
  callbacksResumed: number;
  /** Callbacks whose wait was created on one version and resumed on another. */
  callbacksAcrossVersions: number;
  callbacksOrphaned: number;
  sessions: Map<
    string,
    { version: string; lastSeq: number; userOrder: string; firstVersion: string; done: boolean }
  >;
  errors: Map<string, number>;
}

export function newStats(): PopulationStats {
  return {
    conversations: 0,
    finished: 0,
    turns: 0,
    turnErrors: 0,
    retries: 0,
    busyRetries: 0,
    answers: 0,
    wrongAnswers: 0,
    thumbsDown: 0,
    contextLosses: 0,
    sessionsWithLostContext: new Set(),
    callbacksSent: 0,
    callbacksResumed: 0,
    callbacksAcrossVersions: 0,
    callbacksOrphaned: 0,
    sessions: new Map(),
    errors: new Map(),
  };
}

export interface PopulationOptions {
  /** Concurrent conversations. */
  users: number;
  seed: string;
  minTurns: number;
  maxTurns: number;
  /** Think time between turns, ms. */
  thinkMs: [number, number];
  /** Delay before the human approver answers a callback, ms. */
  approvalMs: [number, number];
  /** Retry budget for one turn (transport errors, busy sessions). */
  maxRetries?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function answerOf(output: unknown): { orderId?: string } | null {
  const a = (output as { answer?: { orderId?: string } | null } | null)?.answer;
  return a ?? null;
}

/** Whether a message asks something only answerable with the conversation's context. */
function needsContext(msg: string, user: SimulatedUser): boolean {
  return !msg.includes(user.orderId) && /status|refund|order/i.test(msg);
}

/** A population of simulated users: `users` conversations at a time until `stop()`. */
export class Population {
  readonly stats = newStats();
  private running = false;
  private loops: Array<Promise<void>> = [];
  private pendingCallbacks = new Set<Promise<void>>();
  private counter = 0;
  private readonly rnd: () => number;

  constructor(
    private readonly transport: Transport,
    private readonly o: PopulationOptions,
  ) {
    this.rnd = seeded(`population:${o.seed}`);
  }

  private between([a, b]: [number, number]): number {
    return a + this.rnd() * (b - a);
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.o.users; i++) this.loops.push(this.loop(i));
  }

  /** Stop starting new conversations; resolves when the open ones (and their callbacks) finished. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    while (this.pendingCallbacks.size > 0) await Promise.all([...this.pendingCallbacks]);
    this.loops = [];
  }

  private async loop(slot: number): Promise<void> {
    // stagger the first conversations so turns do not arrive in lock step
    await sleep(this.rnd() * this.o.thinkMs[1] * 2);
    while (this.running) {
      try {
        await this.conversation(`${this.o.seed}:${slot}:${this.counter++}`);
      } catch (e) {
        const code = e instanceof BatonError ? e.code : 'INTERNAL';
        this.stats.errors.set(code, (this.stats.errors.get(code) ?? 0) + 1);
        await sleep(50);
      }
    }
  }

  private script(seed: string): { user: SimulatedUser; messages: string[] } {
    const user = simulatedUser(seed);
    const r = seeded(`turns:${seed}`);
    const target = this.o.minTurns + Math.floor(r() * (this.o.maxTurns - this.o.minTurns + 1));
    const msgs = [...user.messages];
    const bye = msgs.pop()!;
    const extra = [
      'Can you check the status again?',
      'Any news on my order?',
      'What is the status of my order now?',
    ];
    let k = 0;
    while (msgs.length + 1 < target) msgs.push(extra[k++ % extra.length]!);
    msgs.push(bye);
    return { user, messages: msgs };
  }

  private async retrying<T>(what: () => Promise<T>): Promise<T> {
    const max = this.o.maxRetries ?? 40;
    for (let attempt = 0; ; attempt++) {
      try {
        return await what();
      } catch (e) {
        const code = e instanceof BatonError ? e.code : 'INTERNAL';
        if (!(e instanceof BatonError && e.retryable) || attempt >= max) throw e;
        if (code === 'SESSION_BUSY') this.stats.busyRetries++;
        else this.stats.retries++;
        const hinted = e instanceof BatonError ? Number(e.details?.retryAfterMs) : NaN;
        await sleep(Number.isFinite(hinted) ? Math.min(hinted, 500) : 30 + 20 * attempt);
      }
    }
  }

  private observe(
    id: string,
    user: SimulatedUser,
    msg: string | null,
    out: TurnOutcome,
    told: boolean,
  ): void {
    const s = this.stats.sessions.get(id);
    if (s) {
      s.version = out.version;
      const seq = (out as unknown as { seq?: number }).seq;
      if (typeof seq === 'number') s.lastSeq = Math.max(s.lastSeq, seq);
    }
    const a = answerOf(out.output);
    if (a) {
      this.stats.answers++;
      if (judgeAnswer(out.output) === false) this.stats.wrongAnswers++;
    }
    if (msg !== null && told && needsContext(msg, user) && out.status !== 'waiting') {
      if (!a || a.orderId !== user.orderId) {
        this.stats.contextLosses++;
        this.stats.sessionsWithLostContext.add(id);
      }
    }
  }

  private async conversation(seed: string): Promise<void> {
    const { user, messages } = this.script(seed);
    const t = this.transport;
    const s = await this.retrying(() => t.create());
    this.stats.conversations++;
    this.stats.sessions.set(s.id, {
      version: s.version,
      firstVersion: s.version,
      lastSeq: 0,
      userOrder: user.orderId,
      done: false,
    });
    let told = false;
    let gaveFeedback = false;
    for (let i = 0; i < messages.length; i++) {
      const msg = messages[i]!;
      let out: TurnOutcome;
      try {
        out = await this.retrying(() => this.transport.turn(s.id, s.token, msg, `${s.id}:t${i}`));
      } catch (e) {
        this.stats.turnErrors++;
        throw e;
      }
      this.stats.turns++;
      this.observe(s.id, user, msg, out, told);
      if (msg.includes(user.orderId)) told = true;
      if (!gaveFeedback && judgeAnswer(out.output) === false) {
        gaveFeedback = true;
        this.stats.thumbsDown++;
        await this.retrying(() => this.transport.feedback(s.id, s.token, 'thumbs_down')).catch(
          () => undefined,
        );
      }
      if (out.status === 'waiting' && out.waits.length > 0) {
        const wait = out.waits[0]!;
        const waitToken = wait.token;
        if (waitToken === undefined) {
          // a replayed answer lists the wait without its token: it can only time out
          this.stats.callbacksOrphaned++;
          continue;
        }
        const createdOn = out.version;
        // the human approver answers later; the user waits for the outcome before going on
        await sleep(this.between(this.o.approvalMs));
        this.stats.callbacksSent++;
        let resumed: TurnOutcome;
        try {
          resumed = await this.retrying(() =>
            this.transport.callback(waitToken, { approved: user.approval.approved, by: user.approval.by }),
          );
        } catch (e) {
          if (e instanceof BatonError && (e.code === 'WAIT_NOT_FOUND' || e.code === 'NOT_FOUND')) {
            this.stats.callbacksOrphaned++;
            continue;
          }
          throw e;
        }
        this.stats.callbacksResumed++;
        this.stats.turns++;
        if (resumed.version !== createdOn) this.stats.callbacksAcrossVersions++;
        this.observe(s.id, user, null, resumed, told);
        if (resumed.status === 'completed' || resumed.status === 'failed') break;
      } else if (out.status === 'completed' || out.status === 'failed') break;
      await sleep(this.between(this.o.thinkMs));
    }
    const rec = this.stats.sessions.get(s.id);
    try {
      await this.retrying(() => this.transport.end(s.id, s.token));
    } catch (e) {
      if (!(e instanceof BatonError && e.code === 'SESSION_CLOSED')) throw e;
    }
    if (rec) rec.done = true;
    this.stats.finished++;
  }
}
