/**
 * `runTurn`: one turn of an agent on a checkpoint. Pure apart from the ledger calls made by
 * `effect` and `step`: it returns the next state and output, or throws a BatonError and the
 * caller commits nothing.
 */
import { z } from 'zod';
import {
  BatonError,
  MigrationError,
  NotFoundError,
  ValidationError,
  randomToken,
  systemClock,
} from '@baton/core';
import type {
  CheckpointPart,
  GraphCheckpointStore,
  Clock,
  HistoryEntry,
  HistoryPage,
  LedgerClient,
  StoredHistoryEntry,
  TurnInput,
  TurnOutcome,
  TurnRequest,
  TurnRequestV1,
  TurnResponse,
  TurnTelemetry,
  Wait,
} from '@baton/core';
import type { AgentDefinition } from './agent';
import { boundLedger } from './capability';
import { declaresCompensation, undeclaredCompensation } from './compensate';
import { ledgerEffect, message, toJson } from './effect';
import type { EffectOptions, ModelUsage, TurnContext, WaitOptions } from './context';
import { ledgerPager, memoryPager } from './history';
import type { HistoryPageQuery, HistoryPager } from './history';
import { fromText, jsonText, receivedTexts, unchangedParts } from './parts';
import { turnCall } from './request';
import { ShadowSandbox, toolMode } from './shadow';
import type { TurnCall } from './request';
import { NO_TRACING, turnTracing, type TurnTracing } from './tracing';

export interface RunTurnOptions {
  /** Aborts the turn (e.g. the router gave up on it). */
  signal?: AbortSignal;
}

interface Counters {
  toolCalls: Record<string, number>;
  reasoningSteps: number;
  tokensIn: number;
  tokensOut: number;
}

/** What a journaled step stores besides its value, so a replay reports the same telemetry and call indexes. */
interface StepRecord {
  v?: unknown;
  /** Telemetry produced while the step ran. */
  t: Counters;
  /** Effects and nested steps called inside the step. */
  e: number;
  s: number;
  ctxu: number;
}

/** The abort reason handed to the handler's signal when its turn is over (one object, not one per turn). */
const TURN_FINISHED: Error = Object.freeze(new Error('turn finished'));

/**
 * A turn's abort. Its AbortSignal is made only when the handler asks for it (`ctx.abortSignal`):
 * making one costs about 2 µs in Node 20, and most handlers never look at it. A signal asked for
 * after the turn was aborted or finished is already aborted, with the same reason.
 */
class TurnAbort {
  private readonly ac = new AbortController();
  private given = false;
  private reason: unknown = undefined;
  aborted = false;

  get signal(): AbortSignal {
    if (!this.given) {
      this.given = true;
      if (this.aborted) this.ac.abort(this.reason);
    }
    return this.ac.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    if (this.given) this.ac.abort(reason);
  }
}

/** setTimeout fires at once for delays above 2^31-1 ms; longer deadlines are capped to it (~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function issuePath(err: z.ZodError): string {
  const first = err.issues[0];
  return first ? first.path.map(String).join('.') : '';
}

function describeIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

export function stateInvalid(err: z.ZodError, what: string): BatonError {
  return new BatonError('STATE_INVALID', `${what}: ${describeIssues(err)}`, {
    path: issuePath(err),
    issues: err.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  });
}

/** The zod form of a wait's stored JSON Schema, when it can be converted. */
function fromJsonSchema(schema: Record<string, unknown> | null): z.ZodType | undefined {
  if (!schema) return undefined;
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return undefined;
  }
}

function inputEntry(input: TurnInput, turnId: string, at: number): HistoryEntry {
  switch (input.kind) {
    case 'message':
      return { role: 'user', content: input.message, turnId, at };
    case 'callback':
      return {
        role: 'callback',
        content: { name: input.name, token: input.token, payload: input.payload },
        turnId,
        at,
      };
    case 'timeout':
      return { role: 'system', content: { timeout: input.name, token: input.token }, turnId, at };
  }
}

function checkInput(input: unknown): asserts input is TurnInput {
  const i = input as { kind?: unknown; token?: unknown; name?: unknown } | null;
  if (!i || typeof i !== 'object') throw new ValidationError('turn input must be an object');
  if (i.kind === 'message') return;
  if (i.kind === 'callback' || i.kind === 'timeout') {
    if (typeof i.token !== 'string' || typeof i.name !== 'string')
      throw new ValidationError(`${i.kind} input needs a token and a name`);
    return;
  }
  throw new ValidationError(`unknown turn input kind ${String(i.kind)}`);
}

class Turn<S> implements TurnContext<S> {
  state: S;
  context: unknown;
  memory: unknown;
  readonly graph: GraphCheckpointStore | undefined;
  readonly model: { record(usage: ModelUsage): void };
  output: unknown = undefined;
  readonly appended: HistoryEntry[] = [];
  readonly newWaits: Wait[] = [];
  readonly counters: Counters = { toolCalls: {}, reasoningSteps: 0, tokensIn: 0, tokensOut: 0 };
  contextUtilization = 0;
  readonly metrics: Record<string, number> = {};
  readonly signals: string[] = [];
  ending: { status: 'completed' } | { status: 'failed'; reason: string } | null = null;
  /** An error the handler must not swallow (an effect in doubt, a nondeterministic replay). */
  fatal: BatonError | null = null;
  private effectIndex = 0;
  /**
   * This attempt of the turn: its intents are its own (a retried intent call is not in doubt).
   * Drawn at the first effect: most turns make none, and the random draw is a cost of every turn.
   */
  private attempt: string | undefined;
  private get attemptId(): string {
    return (this.attempt ??= `att_${randomToken(12)}`);
  }
  private stepIndex = 0;
  private journal: Promise<Map<number, { name: string; result: unknown }>> | null = null;

  constructor(
    private readonly agent: AgentDefinition<S>,
    private readonly req: TurnCall,
    private readonly ledger: LedgerClient,
    private readonly clock: Clock,
    private readonly pager: HistoryPager,
    state: S,
    context: unknown,
    memory: unknown,
    private readonly abort: TurnAbort,
    /** A shadow turn's sandbox (null for a live turn): no effect runs, nothing is journaled. */
    readonly sandbox: ShadowSandbox | null = null,
    private readonly tracing: TurnTracing = NO_TRACING,
  ) {
    this.state = state;
    this.context = context;
    this.memory = memory;
    this.graph = ledger.graph;
    this.model = {
      record: (u: ModelUsage) => {
        if (u.tokensIn) this.counters.tokensIn += u.tokensIn;
        if (u.tokensOut) this.counters.tokensOut += u.tokensOut;
        if (u.contextUtilization !== undefined)
          this.contextUtilization = Math.max(this.contextUtilization, u.contextUtilization);
      },
    };
  }

  get history(): readonly StoredHistoryEntry[] {
    const prior = this.req.window;
    if (this.appended.length === 0) return prior;
    const base = this.req.historyLength;
    return [
      ...prior,
      ...this.appended.map((e, i) => ({
        role: e.role,
        content: e.content,
        turnId: e.turnId,
        at: e.at,
        index: base + i,
      })),
    ];
  }
  get historyLength(): number {
    return this.req.historyLength + this.appended.length;
  }
  async readHistory(q: HistoryPageQuery = {}): Promise<HistoryPage> {
    this.checkAlive('history read');
    return this.pager(q);
  }
  get input(): TurnInput {
    return this.req.input;
  }
  get session(): TurnRequest['session'] {
    return this.req.session;
  }
  get turnId(): string {
    return this.req.turnId;
  }
  get deadline(): number {
    return this.req.deadline;
  }
  now(): number {
    return this.clock.now();
  }

  reply(output: unknown): void {
    this.output = output;
  }

  note(role: HistoryEntry['role'], content: unknown): void {
    this.appended.push({ role, content, turnId: this.req.turnId, at: this.clock.now() });
  }

  waitFor(name: string, opts: WaitOptions): Wait {
    if (!name) throw new ValidationError('a wait needs a name');
    if (!Number.isFinite(opts.timeout) || opts.timeout <= 0)
      throw new ValidationError(`wait ${name}: timeout must be a positive number of ms`);
    const schema = opts.schema ?? this.agent.waits?.[name];
    const now = this.clock.now();
    const wait: Wait = {
      token: randomToken(),
      name,
      deadline: now + Math.round(opts.timeout),
      schema: schema ? (z.toJSONSchema(schema, { unrepresentable: 'any' }) as Record<string, unknown>) : null,
      createdAt: now,
    };
    this.newWaits.push(wait);
    return { ...wait };
  }

  payload<T = unknown>(schemaOrWait?: z.ZodType<T> | string): T {
    const input = this.req.input;
    if (input.kind !== 'callback') throw new ValidationError(`turn input is a ${input.kind}, not a callback`);
    let schema: z.ZodType<T> | undefined;
    if (typeof schemaOrWait !== 'string') schema = schemaOrWait;
    else {
      // by name: the payload of that wait, parsed by its declared schema
      if (input.name !== schemaOrWait)
        throw new ValidationError(`turn input answers the wait ${input.name}, not ${schemaOrWait}`);
      schema = this.agent.waits?.[schemaOrWait] as z.ZodType<T> | undefined;
      if (!schema)
        throw new ValidationError(
          `${this.agent.name}@${this.agent.version} declares no wait ${schemaOrWait}`,
        );
    }
    if (!schema) return input.payload as T;
    const r = schema.safeParse(input.payload);
    if (!r.success)
      throw new ValidationError(`callback payload for ${input.name} is invalid: ${describeIssues(r.error)}`, {
        path: issuePath(r.error),
      });
    return r.data;
  }

  private count(name: string): void {
    this.counters.toolCalls[name] = (this.counters.toolCalls[name] ?? 0) + 1;
  }

  get abortSignal(): AbortSignal {
    return this.abort.signal;
  }

  private checkAlive(what: string): void {
    if (this.fatal) throw this.fatal;
    if (this.abort.aborted) throw new BatonError('TURN_TIMEOUT', `${what} not started: the turn was aborted`);
  }

  private setFatal(e: BatonError): BatonError {
    this.fatal ??= e;
    return e;
  }

  async tool<T>(name: string, run: () => T | Promise<T>): Promise<T> {
    this.checkAlive(`tool ${name}`);
    this.count(name);
    const mode = toolMode(this.agent.shadow, name);
    if (this.sandbox && mode === 'replay') {
      const value = this.sandbox.replayTool(name) as T;
      this.note('tool', { tool: name, result: value });
      return value;
    }
    if (this.sandbox) this.sandbox.ranTool();
    return this.tracing.tool(name, 'tool', null, async () => {
      const value = await run();
      // a `replay` tool's result is recorded in the history, where a shadow turn finds it
      if (mode === 'replay') this.note('tool', { tool: name, result: toJson(value) ?? null });
      return value;
    });
  }

  async effect<T>(
    name: string,
    args: unknown,
    run: (args: any) => T | Promise<T>,
    opts: EffectOptions = {},
  ): Promise<T> {
    const index = this.effectIndex++;
    this.checkAlive(`effect ${name}`);
    if (opts.compensate !== undefined && !declaresCompensation(this.agent, opts.compensate))
      throw undeclaredCompensation(this.agent, name, opts.compensate);
    this.count(name);
    if (this.sandbox) {
      try {
        return this.sandbox.effect(index, name, args) as T;
      } catch (e) {
        if (e instanceof BatonError && e.code !== 'EFFECT_FAILED') throw this.setFatal(e);
        throw e;
      }
    }
    const idempotencyKey = `${this.req.session.id}:${this.req.turnId}:${index}`;
    return this.tracing.tool(name, 'effect', idempotencyKey, () =>
      this.ledgerEffect(name, args, run, opts, index),
    );
  }

  private ledgerEffect<T>(
    name: string,
    args: unknown,
    run: (args: any) => T | Promise<T>,
    opts: EffectOptions,
    index: number,
  ): Promise<T> {
    return ledgerEffect({
      ledger: this.ledger,
      intent: {
        idempotencyKey: `${this.req.session.id}:${this.req.turnId}:${index}`,
        sessionId: this.req.session.id,
        agent: this.agent.name,
        version: this.agent.version,
        turnId: this.req.turnId,
        name,
        args: toJson(args) ?? null,
        compensation: opts.compensate ?? null,
        attemptId: this.attemptId,
      },
      index,
      within: `turn ${this.req.turnId}`,
      run,
      opts,
      deadline: this.req.deadline,
      fatal: (e) => this.setFatal(e),
    });
  }

  async step<T>(name: string, run: () => T | Promise<T>): Promise<T> {
    const index = this.stepIndex++;
    this.checkAlive(`step ${name}`);
    // a shadow turn journals nothing (its capability is read-only): the step simply runs
    if (this.sandbox) return toJson(await run());
    this.journal ??= this.ledger
      .steps(this.req.session.id, this.req.turnId)
      .then((rows) => new Map(rows.map((r) => [r.index, { name: r.name, result: r.result }])));
    const journaled = (await this.journal).get(index);
    if (journaled) {
      if (journaled.name !== name)
        throw this.setFatal(
          new BatonError(
            'TURN_FAILED',
            `step #${index} of turn ${this.req.turnId} was ${journaled.name} in an earlier attempt, now ${name}: the turn is not deterministic`,
            { recorded: journaled.name, called: name },
          ),
        );
      const rec = journaled.result as StepRecord;
      for (const [tool, n] of Object.entries(rec.t.toolCalls))
        this.counters.toolCalls[tool] = (this.counters.toolCalls[tool] ?? 0) + n;
      this.counters.reasoningSteps += rec.t.reasoningSteps;
      this.counters.tokensIn += rec.t.tokensIn;
      this.counters.tokensOut += rec.t.tokensOut;
      this.contextUtilization = Math.max(this.contextUtilization, rec.ctxu);
      this.effectIndex += rec.e;
      this.stepIndex += rec.s;
      return rec.v as T;
    }
    const before: Counters = Object.assign({}, this.counters, { toolCalls: { ...this.counters.toolCalls } });
    const e0 = this.effectIndex;
    const s0 = this.stepIndex;
    const value = toJson(await run());
    const toolCalls: Record<string, number> = {};
    for (const [tool, n] of Object.entries(this.counters.toolCalls)) {
      const d = n - (before.toolCalls[tool] ?? 0);
      if (d > 0) toolCalls[tool] = d;
    }
    const rec: StepRecord = {
      v: value,
      t: {
        toolCalls,
        reasoningSteps: this.counters.reasoningSteps - before.reasoningSteps,
        tokensIn: this.counters.tokensIn - before.tokensIn,
        tokensOut: this.counters.tokensOut - before.tokensOut,
      },
      e: this.effectIndex - e0,
      s: this.stepIndex - s0,
      ctxu: this.contextUtilization,
    };
    await this.ledger.putStep(this.req.session.id, this.req.turnId, index, name, rec);
    return value;
  }

  signal(kind: string): void {
    this.signals.push(kind);
  }
  reasoningStep(n = 1): void {
    this.counters.reasoningSteps += n;
  }
  metric(name: string, value: number): void {
    if (!Number.isFinite(value)) throw new ValidationError(`metric ${name} must be a finite number`);
    this.metrics[name] = value;
  }
  complete(): void {
    this.ending = { status: 'completed' };
  }
  fail(reason: string): void {
    this.ending = { status: 'failed', reason };
  }

  telemetry(latencyMs: number, error?: string): TurnTelemetry {
    const t: TurnTelemetry = {
      latencyMs,
      toolCalls: { ...this.counters.toolCalls },
      reasoningSteps: this.counters.reasoningSteps,
      tokensIn: this.counters.tokensIn,
      tokensOut: this.counters.tokensOut,
      contextUtilization: this.contextUtilization,
      metrics: { ...this.metrics },
      signals: [...this.signals],
    };
    if (error !== undefined) t.error = error;
    return t;
  }
}

/**
 * Runs one turn. Throws a BatonError when the turn fails (nothing is to be committed):
 * `VERSION_CONFLICT` (wrong agent/version), `MIGRATION_FAILED` (checkpoint of another schema
 * version: migrate first), `STATE_INVALID`, `VALIDATION` (bad input or callback payload),
 * `TURN_TIMEOUT`, `EFFECT_IN_DOUBT`, `EFFECT_FAILED`, `TURN_FAILED` (the handler threw).
 * A thrown error carries the attempt's telemetry in `details.telemetry`.
 *
 * Protocol 2 (`req.protocol === 2`): `ctx.history` is the request's window plus this turn's
 * entries, older entries are paged with `ctx.readHistory` through `ledger.history`, and the answer
 * marks the parts the turn left unchanged (`unchanged`) instead of sending them. A protocol-1
 * request (an old router) carries the whole history and gets a protocol-1 answer.
 */
export async function runTurn<S>(
  agent: AgentDefinition<S>,
  req: TurnRequest | TurnRequestV1,
  ledger: LedgerClient,
  clock: Clock = systemClock,
  opts: RunTurnOptions = {},
): Promise<TurnResponse> {
  const started = clock.now();
  if (!req || typeof req !== 'object' || !req.session)
    throw new ValidationError('turn request needs a session');
  if (typeof req.turnId !== 'string' || req.turnId.length === 0)
    throw new ValidationError('turnId is required');
  if (req.session.agent !== agent.name || req.session.version !== agent.version)
    throw new BatonError(
      'VERSION_CONFLICT',
      `this worker serves ${agent.name}@${agent.version}, the session is pinned to ${req.session.agent}@${req.session.version}`,
      { serves: `${agent.name}@${agent.version}`, session: `${req.session.agent}@${req.session.version}` },
    );
  checkInput(req.input);
  if (typeof req.deadline !== 'number' || !Number.isFinite(req.deadline))
    throw new ValidationError('deadline must be epoch milliseconds');
  const call = turnCall(req);
  const cp = call.checkpoint;
  if (cp && cp.schemaVersion !== agent.schemaVersion)
    throw new MigrationError(
      `checkpoint #${cp.seq} has state schema ${cp.schemaVersion}, ${agent.name}@${agent.version} runs schema ${agent.schemaVersion}: migrate first`,
      { fromSchema: cp.schemaVersion, toSchema: agent.schemaVersion },
    );
  // the received parts' JSON texts, once: the handler's detached copies are parsed from them, and
  // the answer compares the parts after the turn with them (`unchangedParts`)
  const received = cp ? receivedTexts(cp) : undefined;
  let state: S;
  if (cp) {
    const parsed = agent.state.safeParse(fromText(received!.state));
    if (!parsed.success)
      throw stateInvalid(
        parsed.error,
        `checkpoint #${cp.seq} state does not match schema ${agent.schemaVersion}`,
      );
    state = parsed.data;
  } else {
    state = agent.initialState();
  }
  let waits: Wait[] = cp?.waits ?? [];
  const input = call.input;
  if (input.kind === 'callback' || input.kind === 'timeout') {
    const pending = waits.find((w) => w.token === input.token);
    if (!pending)
      throw new NotFoundError(
        'WAIT_NOT_FOUND',
        `session ${req.session.id} has no pending wait with this token (answered, expired or never created)`,
        { name: input.name },
      );
    waits = waits.filter((w) => w.token !== input.token);
    const schema = agent.waits?.[pending.name] ?? fromJsonSchema(pending.schema);
    if (input.kind === 'callback' && schema) {
      const r = schema.safeParse(input.payload);
      if (!r.success)
        throw new ValidationError(
          `callback payload for ${pending.name} is invalid: ${describeIssues(r.error)}`,
          {
            path: issuePath(r.error),
          },
        );
    }
  }

  const remaining = req.deadline - started;
  if (!(remaining > 0))
    throw new BatonError('TURN_TIMEOUT', `turn ${req.turnId}: the deadline has already passed`);

  const abort = new TurnAbort();
  let stopWith: ((e: BatonError) => void) | undefined;
  const aborted = (): BatonError => new BatonError('TURN_TIMEOUT', `turn ${req.turnId} was aborted`);
  // the caller aborts the turn (a lost lease): the handler's signal aborts and the turn ends
  const onAbort = (): void => {
    abort.abort(opts.signal?.reason);
    stopWith?.(aborted());
  };
  if (opts.signal?.aborted)
    throw new BatonError('TURN_TIMEOUT', `turn ${req.turnId} was aborted before it started`);
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const turnLedger = boundLedger(ledger, call.capability);
  const pager =
    call.carriedHistory !== null
      ? memoryPager(call.carriedHistory, call.session.id)
      : ledgerPager(turnLedger, call.capability!, call.session.id);
  const tracing = await turnTracing({
    traceparent: (req as { traceparent?: unknown }).traceparent,
    tracestate: (req as { tracestate?: unknown }).tracestate,
    sessionId: req.session.id,
    agent: agent.name,
    version: agent.version,
    turnId: req.turnId,
  });
  const ctx = new Turn<S>(
    agent,
    call,
    turnLedger,
    clock,
    pager,
    state,
    received ? fromText(received.context) : null,
    received ? fromText(received.memory) : undefined,
    abort,
    'shadow' in req && req.shadow ? new ShadowSandbox(req.shadow, agent.shadow) : null,
    tracing,
  );
  ctx.appended.push(inputEntry(input, req.turnId, started));

  let timer: NodeJS.Timeout | undefined;
  const stop = new Promise<never>((_, reject) => {
    stopWith = reject;
    timer = setTimeout(
      () => {
        abort.abort(new Error('deadline'));
        reject(new BatonError('TURN_TIMEOUT', `turn ${req.turnId} did not finish before its deadline`));
      },
      Math.min(remaining, MAX_TIMER_MS),
    );
  });
  stop.catch(() => undefined);
  if (abort.aborted) stopWith!(aborted()); // aborted while the turn was being set up
  let returned: unknown;
  try {
    // in the router's trace context: the agent's own spans nest under the turn's span
    const handler = tracing.within(() => Promise.resolve().then(() => agent.turn(ctx, input)));
    // after a timeout the handler may still settle; its late failure must not become an unhandled rejection
    handler.catch(() => undefined);
    returned = await Promise.race([handler, stop]);
    if (ctx.fatal) throw ctx.fatal;
  } catch (e) {
    const err =
      ctx.fatal ??
      (e instanceof BatonError
        ? e
        : new BatonError(
            'TURN_FAILED',
            `${agent.name}@${agent.version} turn failed: ${message(e)}`,
            undefined,
            { cause: e },
          ));
    const details = Object.assign({}, err.details, {
      telemetry: ctx.telemetry(clock.now() - started, err.code),
      ...(ctx.sandbox ? { shadow: ctx.sandbox.report() } : {}),
    });
    throw new BatonError(err.code, err.message, details, { cause: err.cause ?? e });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    abort.abort(TURN_FINISHED);
  }

  const output = returned !== undefined ? returned : ctx.output;
  const parsed = agent.state.safeParse(ctx.state);
  if (!parsed.success) {
    const err = stateInvalid(
      parsed.error,
      `state after turn ${req.turnId} does not match schema ${agent.schemaVersion}`,
    );
    throw new BatonError(
      err.code,
      err.message,
      Object.assign({}, err.details, { telemetry: ctx.telemetry(clock.now() - started, 'STATE_INVALID') }),
    );
  }
  if (output !== undefined)
    ctx.appended.push({ role: 'agent', content: output, turnId: req.turnId, at: clock.now() });

  let status: TurnOutcome;
  let pending = [...waits, ...ctx.newWaits];
  if (ctx.ending) {
    status = ctx.ending.status;
    pending = [];
  } else status = pending.length > 0 ? 'waiting' : 'idle';
  const telemetry = ctx.telemetry(
    clock.now() - started,
    ctx.ending?.status === 'failed' ? ctx.ending.reason : undefined,
  );
  const res = answer(call, received, agent.schemaVersion, {
    state: parsed.data,
    context: ctx.context,
    memory: ctx.memory,
    history: ctx.appended,
    output,
    status,
    waits: pending,
    telemetry,
  });
  if (ctx.sandbox) res.shadow = ctx.sandbox.report();
  return res;
}

/**
 * The answer, as detached plain JSON. Protocol 2: the parts equal (as JSON text) to those received
 * are left out and named in `unchanged` with their received hashes.
 */
function answer(
  call: TurnCall,
  received: Record<CheckpointPart, string | undefined> | undefined,
  schemaVersion: number,
  r: Omit<TurnResponse, 'schemaVersion' | 'unchanged'>,
): TurnResponse {
  const texts: Record<CheckpointPart, string | undefined> = {
    state: jsonText(r.state),
    context: jsonText(r.context ?? null),
    memory: jsonText(r.memory),
  };
  const unchanged = unchangedParts(call.checkpoint, texts, received);
  const plain = (part: CheckpointPart): unknown =>
    texts[part] === undefined ? undefined : JSON.parse(texts[part]);
  const rest = toJson({ history: r.history, output: r.output }) as {
    history: HistoryEntry[];
    output?: unknown;
  };
  // TurnResponse lists state and context as required, but a protocol-2 answer leaves out what it
  // marks unchanged (protocol.ts: "their values are then ignored (and may be left out)").
  const res = {
    history: rest.history,
    output: rest.output ?? null,
    status: r.status,
    waits: r.waits,
    telemetry: r.telemetry,
    schemaVersion,
  } as TurnResponse;
  if (unchanged.state === undefined) res.state = plain('state');
  if (unchanged.context === undefined) res.context = plain('context');
  if (unchanged.memory === undefined && texts.memory !== undefined) res.memory = plain('memory');
  if (Object.keys(unchanged).length > 0) res.unchanged = unchanged;
  return res;
}
