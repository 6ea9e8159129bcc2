/**
 * `runCompensation`: one run of a declared compensation on a committed effect, with a context of
 * its own. The input is the effect's recorded args and result (never the session's state). Its
 * effects go through the ledger under the request's compensation capability, keyed by the
 * compensated effect (`compensationEffectKey`), so a run retried after a crash replays what
 * already ran. Answers `{ok: false}` when the compensation throws (the router records `failed`).
 */
import {
  BatonError,
  ValidationError,
  compensationEffectKey,
  compensationTurnId,
  randomToken,
  systemClock,
} from '@baton/core';
import type { Clock, CompensateRequest, CompensateResponse, LedgerClient } from '@baton/core';
import type { AgentDefinition } from './agent';
import { boundLedger } from './capability';
import type { CompensationContext, EffectOptions } from './context';
import { ledgerEffect, message, toJson } from './effect';

export function declaresCompensation(
  agent: Pick<AgentDefinition<unknown>, 'compensations'>,
  name: string,
): boolean {
  return typeof agent.compensations?.[name] === 'function' && Object.hasOwn(agent.compensations, name);
}

/** An effect naming a compensation its version does not declare (refused before the intent is recorded). */
export function undeclaredCompensation(
  agent: Pick<AgentDefinition<unknown>, 'name' | 'version' | 'compensations'>,
  effect: string,
  compensation: string,
): ValidationError {
  const declared = Object.keys(agent.compensations ?? {});
  return new ValidationError(
    `effect ${effect} names compensation ${compensation}, which ${agent.name}@${agent.version} does not declare` +
      (declared.length ? ` (it declares ${declared.join(', ')})` : ' (it declares none)'),
    { effect, compensation, declared },
  );
}

class Compensation implements CompensationContext {
  private index = 0;
  private fatalError: BatonError | null = null;
  private readonly attemptId = `att_${randomToken(12)}`;

  constructor(
    private readonly req: CompensateRequest,
    private readonly ledger: LedgerClient,
    private readonly clock: Clock,
    readonly abortSignal: AbortSignal,
  ) {}

  get session(): CompensateRequest['session'] {
    return this.req.session;
  }
  get deadline(): number {
    return this.req.deadline;
  }
  now(): number {
    return this.clock.now();
  }
  get fatal(): BatonError | null {
    return this.fatalError;
  }

  async effect<T>(
    name: string,
    args: unknown,
    run: (args: any) => T | Promise<T>,
    opts: Pick<EffectOptions, 'idempotent'> = {},
  ): Promise<T> {
    const index = this.index++;
    if (this.fatalError) throw this.fatalError;
    if (this.abortSignal.aborted)
      throw new BatonError('TURN_TIMEOUT', `effect ${name} not started: the compensation's deadline passed`);
    const e = this.req.effect;
    return ledgerEffect({
      ledger: this.ledger,
      intent: {
        idempotencyKey: compensationEffectKey(e.idempotencyKey, index),
        sessionId: this.req.session.id,
        agent: this.req.session.agent,
        version: this.req.session.version,
        turnId: compensationTurnId(e.id),
        name,
        args: toJson(args) ?? null,
        compensation: null,
        compensates: e.id,
        attemptId: this.attemptId,
      },
      index,
      within: `the compensation of ${e.id}`,
      run,
      opts,
      deadline: this.req.deadline,
      fatal: (err) => (this.fatalError ??= err),
    });
  }
}

/** Run `req.compensation` of `agent` on `req.effect`. */
export async function runCompensation<S>(
  agent: AgentDefinition<S>,
  req: CompensateRequest,
  ledger: LedgerClient,
  clock: Clock = systemClock,
): Promise<CompensateResponse> {
  if (req.session.agent !== agent.name || req.session.version !== agent.version)
    throw new BatonError('VERSION_CONFLICT', `this worker serves ${agent.name}@${agent.version}`, {
      requested: `${req.session.agent}@${req.session.version}`,
    });
  if (!declaresCompensation(agent, req.compensation))
    throw new BatonError(
      'COMPENSATION_UNDECLARED',
      `${agent.name}@${agent.version} declares no compensation ${req.compensation}`,
      { compensation: req.compensation, declared: Object.keys(agent.compensations ?? {}) },
    );
  const fn = agent.compensations![req.compensation]!;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), Math.min(Math.max(0, req.deadline - clock.now()), 2 ** 31 - 1));
  const ctx = new Compensation(req, boundLedger(ledger, req.capability), clock, ac.signal);
  const e = req.effect;
  try {
    const result = toJson(
      await fn(ctx, {
        args: e.args,
        result: e.result,
        effect: {
          id: e.id,
          idempotencyKey: e.idempotencyKey,
          name: e.name,
          version: e.version,
          sessionId: req.session.id,
          turnId: e.turnId,
        },
      }),
    );
    if (ctx.fatal) throw ctx.fatal;
    return { ok: true, result: result ?? null };
  } catch (err) {
    const code = err instanceof BatonError ? err.code : 'COMPENSATION_FAILED';
    return { ok: false, error: { code, message: message(err) } };
  } finally {
    clearTimeout(timer);
  }
}
