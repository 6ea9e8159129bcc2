/**
 * Rollout admin API (bearer token with the `admin` scope), registered through
 * `createServer({routes: [rolloutRoutes()]})`:
 *
 *   POST /v1/rollouts                       spec (JSON or YAML) → pre-flight → 201 rollout status
 *   POST /v1/rollouts?dryRun=true           pre-flight only (nothing stored)
 *   GET  /v1/rollouts                       ?agent=&phase=
 *   GET  /v1/rollouts/{id}                  status: phase, step, weights, drain, sessions, gates, decisions
 *   GET  /v1/rollouts/{id}/decisions        ?afterSeq=&limit=
 *   GET  /v1/rollouts/{id}/report           effects committed by the candidate, with compensations
 *   POST /v1/rollouts/{id}/promote|pause|resume|abort   {reason?, by?}
 *   POST /v1/rollouts/{id}/compensate       {dryRun = true, effects?: ids, note?, by?} (compensation-api.ts)
 *   POST /v1/migrate/check                  spec (JSON or YAML) → pre-flight summary (200, ok true/false)
 *   POST /v1/rollouts/forecast              spec → the drain forecast (nothing is created)
 *   GET  /v1/rollouts/{id}/verdict, GET /v1/agents/{agent}/verdict   (verdict.ts)
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  BatonError,
  compensateRolloutBodySchema,
  decisionsQuerySchema,
  dryRunQuerySchema,
  rolloutCommandBodySchema,
  rolloutStatusQuerySchema,
  rolloutsQuerySchema,
  TERMINAL_ROLLOUT_PHASES,
  type RolloutDecisionInput,
  type RolloutRecord,
  type VersionRecord,
} from '@baton/core';
import { READ_SCOPES } from '../auth';
import { compensateRollout } from '../compensation-api';
import type { ServerContext } from '../context';
import { parse } from '../validation';
import { applyEvent, loadState } from './controller';
import {
  desiredRoute,
  initialState,
  transition,
  toPersisted,
  type RolloutEvent,
  type RolloutState,
} from './machine';
import { drainProgress } from './metrics';
import { interpreterFor } from './interpret';
import { buildAbortReport, runPreflight, type AbortReport } from './ops';
import { parseSpec, type RolloutSpec } from './spec';
import { verdictRoutes } from './verdict';
import { rolloutHead, rolloutStatus } from './status';
import { specWarnings, type SpecWarning } from './warnings';
import { registerRolloutViewRoutes } from './view-api';
import type { DrainForecast } from '../analysis/forecast';
import { traceDecisions } from '../tracing/spans';
import { eagerRateFor, FORECAST_DECISION, forecastMessage, forecastSpec, preflightRate } from './forecast';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** Whether `green` can move its sessions back to `blue` (same schema, or a down migration to it). */
export function reversible(blue: VersionRecord, green: VersionRecord): boolean {
  return blue.schemaVersion === green.schemaVersion || green.downSchemas.includes(blue.schemaVersion);
}

/** Resolve the spec's versions: `from` defaults to the agent's stable route. */
async function resolveVersions(
  ctx: ServerContext,
  spec: RolloutSpec,
): Promise<{ blue: VersionRecord; green: VersionRecord }> {
  let from = spec.from;
  const route = await ctx.store.getRoute(spec.agent);
  if (from === null) {
    if (!route)
      throw new BatonError('VALIDATION', `from: agent ${spec.agent} has no stable version yet; name one`, {
        path: 'from',
      });
    from = route.stable;
  } else if (route && route.stable !== from && route.candidate !== from) {
    throw new BatonError(
      'VALIDATION',
      `from: ${spec.agent}'s stable version is ${route.stable}, not ${from}`,
      {
        path: 'from',
        stable: route.stable,
      },
    );
  }
  if (from === spec.to)
    throw new BatonError('VALIDATION', `to: ${spec.to} is already the stable version`, { path: 'to' });
  const [blue, green] = await Promise.all([
    ctx.versions.get(spec.agent, from),
    ctx.versions.get(spec.agent, spec.to),
  ]);
  return { blue, green };
}

function preflightError(
  p: { checked: number; total: number; failures: Array<{ sessionId: string; error: string }> },
  to: string,
): BatonError {
  return new BatonError(
    'PREFLIGHT_FAILED',
    `pre-flight: ${p.failures.length} of ${p.checked} checkpoint(s) fail to migrate to ${to}; nothing moved`,
    {
      checked: p.checked,
      total: p.total,
      failed: p.failures.length,
      sessionIds: p.failures.map((f) => f.sessionId),
      failures: p.failures.slice(0, 1000),
    },
  );
}

/**
 * Create a rollout: validate, refuse while another is active, run the pre-flight (refuse with
 * PREFLIGHT_FAILED, storing nothing, when a checkpoint fails), store it and take its first step.
 */
export async function createRollout(
  ctx: ServerContext,
  specInput: unknown,
  opts: {
    dryRun?: boolean;
    /** The controller's pass interval the forecast assumes (default 1 s). */ passMs?: number;
  } = {},
): Promise<{
  created: RolloutRecord | null;
  preflight: RolloutState['preflight'];
  spec: RolloutSpec;
  forecast: DrainForecast;
  warnings: SpecWarning[];
}> {
  const spec = parseSpec(specInput);
  const warnings = specWarnings(spec);
  const { blue, green } = await resolveVersions(ctx, spec);
  const existing = await ctx.store.listRollouts({ agent: spec.agent });
  const active = existing.find((r) => !TERMINAL_ROLLOUT_PHASES.includes(r.phase));
  if (active)
    throw new BatonError('ROLLOUT_ACTIVE', `rollout ${active.id} of ${spec.agent} is ${active.phase}`, {
      rolloutId: active.id,
      phase: active.phase,
    });
  if (spec.onAbort.greenSessions === 'reverse' && !reversible(blue, green))
    throw new BatonError(
      'PREFLIGHT_FAILED',
      `onAbort.greenSessions: reverse needs a down migration from ${green.label}'s schema ${green.schemaVersion} ` +
        `to ${blue.label}'s schema ${blue.schemaVersion}, and ${spec.agent}@${green.label} ships none ` +
        `(it reaches schemas ${JSON.stringify(green.downSchemas)} down)`,
      { from: blue.label, to: green.label, downSchemas: green.downSchemas },
    );
  let preflight: RolloutState['preflight'] = null;
  let preflightPerMs: number | null = null;
  if (spec.preflight.enabled || opts.dryRun) {
    const t0 = ctx.clock.now();
    preflight = await runPreflight(ctx, {
      agent: spec.agent,
      from: blue.label,
      to: green.label,
      sample: spec.preflight.sample,
    });
    if (!preflight.ok) throw preflightError(preflight, green.label);
    preflightPerMs = preflightRate(preflight.checked, ctx.clock.now() - t0);
  }
  const forecast = await forecastSpec(ctx, spec, blue.label, {
    preflightRatePerMs: preflightPerMs,
    ...(opts.passMs !== undefined ? { passMs: opts.passMs } : {}),
  });
  if (opts.dryRun) return { created: null, preflight, spec, forecast, warnings };

  const state = initialState({
    spec,
    agent: spec.agent,
    blue: blue.label,
    green: green.label,
    reversible: reversible(blue, green),
    preflight,
  });
  // what only this request knows goes in with the rollout, first in its log (seq 1…): a controller
  // that takes the first step before this request does can only come after it
  const made: RolloutDecisionInput[] = [
    {
      kind: 'created',
      message: `rollout of ${spec.agent} from ${blue.label} to ${green.label} in ${spec.steps.length} step(s)`,
      evidence: { spec, reversible: state.reversible },
    },
    { kind: FORECAST_DECISION, message: forecastMessage(forecast), evidence: forecast },
    ...warnings.map((w) => ({ kind: 'preflight-warning' as const, message: w.message, evidence: w })),
  ];
  const rec = await ctx.store.createRollout({
    agent: spec.agent,
    from: blue.label,
    to: green.label,
    spec,
    phase: 'pending',
    state: toPersisted(state),
    decisions: made,
  });
  // finished rollouts of this agent that were still draining stop touching the route
  for (const old of existing) {
    if ((old.state as { stage?: string } | null)?.stage === 'done') continue;
    await applyEvent(ctx.store, old.id, { type: 'supersede', by: rec.id }, () => ctx.clock.now()).catch(
      () => undefined,
    );
  }
  // take the first step now (the controller would on its next pass)
  const r = transition(state, { type: 'start' }, ctx.clock.now());
  let updated: RolloutRecord;
  try {
    updated = await ctx.store.updateRollout(
      rec.id,
      rec.rev,
      { phase: r.state.phase, step: Math.max(0, r.state.step), state: toPersisted(r.state) },
      r.decisions,
    );
  } catch (e) {
    // a controller (this process's or another router's) took the first step between the insert
    // and this update: the rollout exists and has started, so this request succeeded — answer it
    // (found by the chaos suite: a 409 for a rollout that was created)
    if (!(e instanceof BatonError && e.code === 'CONFLICT')) throw e;
    const current = await ctx.store.getRollout(rec.id);
    traceDecisions(current, made);
    // the route of the state it is in now (the controller's own action sets it so, and may
    // already have: performing it again is harmless)
    const state = loadState(current);
    const now = desiredRoute(state);
    if (now) await interpreterFor(ctx).perform({ rec: current, state }, { type: 'set-route', route: now });
    return { created: current, preflight, spec, forecast, warnings };
  }
  traceDecisions(updated, [...made, ...r.decisions]);
  // the first step's actions, by the controller's interpreter: those due at once now (the route);
  // the others are the leader's (it may be another server), and its next tick emits them again
  await interpreterFor(ctx).performAtOnce({ rec: updated, state: r.state }, r.actions);
  return { created: updated, preflight, spec, forecast, warnings };
}

/** Apply a command (pause, resume, promote, abort) and put the route in place at once. */
export async function commandRollout(
  ctx: ServerContext,
  id: string,
  event: RolloutEvent,
): Promise<RolloutRecord> {
  const { loaded } = await applyEvent(ctx.store, id, event, () => ctx.clock.now());
  const route = desiredRoute(loaded.state);
  if (route && loaded.state.stage !== 'done')
    await interpreterFor(ctx).perform(loaded, { type: 'set-route', route });
  return loaded.rec;
}

function specBody(req: FastifyRequest): unknown {
  const b = req.body;
  if (b === undefined || b === null || (typeof b === 'string' && b.trim() === ''))
    throw new BatonError('VALIDATION', 'rollout spec: request body is empty', { path: '' });
  return b;
}

/** The route registrar for `createServer({routes})`. */
export function rolloutRoutes(): (app: FastifyInstance, ctx: ServerContext) => void {
  return (app, ctx) => {
    const admin = async (req: { headers: { authorization?: string } }): Promise<void> => {
      ctx.auth.require(req.headers.authorization, 'admin');
    };
    const reader = async (req: { headers: { authorization?: string } }): Promise<void> => {
      ctx.auth.require(req.headers.authorization, ...READ_SCOPES);
    };
    for (const t of YAML_TYPES) {
      if (!app.hasContentTypeParser(t))
        app.addContentTypeParser(t, { parseAs: 'string' }, (_req, body, done) => done(null, body));
    }

    app.post('/v1/rollouts', { onRequest: admin }, async (req, reply) => {
      const q = parse(dryRunQuerySchema, req.query, 'query');
      const out = await createRollout(ctx, specBody(req), { dryRun: q.dryRun === true });
      if (!out.created)
        return reply.code(200).send({
          dryRun: true,
          ok: true,
          preflight: out.preflight,
          forecast: out.forecast,
          warnings: out.warnings,
          spec: out.spec,
        });
      return reply.code(201).send(await rolloutStatus(ctx, out.created));
    });

    const preflight = async (req: FastifyRequest) => {
      const spec = parseSpec(specBody(req));
      const { blue, green } = await resolveVersions(ctx, spec);
      const p = await runPreflight(ctx, {
        agent: spec.agent,
        from: blue.label,
        to: green.label,
        sample: spec.preflight.sample,
      });
      return { agent: spec.agent, from: blue.label, to: green.label, ...p };
    };
    app.post('/v1/rollouts/forecast', { onRequest: admin }, async (req) => {
      const spec = parseSpec(specBody(req));
      const { blue, green } = await resolveVersions(ctx, spec);
      const rate = await eagerRateFor(ctx, spec, blue.label, green.label);
      const forecast = await forecastSpec(ctx, spec, blue.label, { preflightRatePerMs: rate });
      return {
        agent: spec.agent,
        from: blue.label,
        to: green.label,
        forecast,
        warnings: specWarnings(spec),
        spec,
      };
    });
    app.post('/v1/migrate/check', { onRequest: admin }, preflight);
    app.post('/v1/rollouts/preflight', { onRequest: admin }, preflight);

    app.get('/v1/rollouts', { onRequest: reader }, async (req) => {
      const q = parse(rolloutsQuerySchema, req.query, 'query');
      const recs = await ctx.store.listRollouts({
        ...(q.agent ? { agent: q.agent } : {}),
        ...(q.phase ? { phase: q.phase } : {}),
      });
      const items = recs.map((rec) => {
        const s = loadState(rec);
        return {
          ...rolloutHead(rec, s),
          drain: { remaining: s.drain.snapshot?.remaining ?? null, progress: drainProgress(s) },
          createdAt: rec.createdAt,
          updatedAt: rec.updatedAt,
        };
      });
      return { items };
    });

    app.get<{ Params: { id: string } }>('/v1/rollouts/:id', { onRequest: reader }, async (req) => {
      const q = parse(rolloutStatusQuerySchema, req.query, 'query');
      return rolloutStatus(ctx, await ctx.store.getRollout(req.params.id), {
        ...(q.stragglers !== undefined ? { stragglers: q.stragglers } : {}),
      });
    });

    app.get<{ Params: { id: string } }>('/v1/rollouts/:id/decisions', { onRequest: reader }, async (req) => {
      const q = parse(decisionsQuerySchema, req.query, 'query');
      await ctx.store.getRollout(req.params.id);
      const items = await ctx.store.listDecisions(req.params.id, {
        ...(q.afterSeq !== undefined ? { afterSeq: q.afterSeq } : {}),
        limit: q.limit ?? 1000,
      });
      return { items };
    });

    app.get<{ Params: { id: string } }>(
      '/v1/rollouts/:id/report',
      { onRequest: admin },
      async (req): Promise<AbortReport> => {
        const rec = await ctx.store.getRollout(req.params.id);
        return buildAbortReport(ctx, { agent: rec.agent, version: rec.to, rolloutId: rec.id });
      },
    );

    for (const cmd of ['promote', 'pause', 'resume', 'abort'] as const) {
      app.post<{ Params: { id: string } }>(`/v1/rollouts/:id/${cmd}`, { onRequest: admin }, async (req) => {
        const b = parse(rolloutCommandBodySchema, req.body) ?? {};
        const by = b.by;
        const event: RolloutEvent =
          cmd === 'pause'
            ? { type: 'pause', reason: b.reason ?? 'paused by hand', ...(by ? { by } : {}) }
            : cmd === 'abort'
              ? { type: 'abort', reason: b.reason ?? 'aborted by hand', ...(by ? { by } : {}) }
              : { type: cmd, ...(by ? { by } : {}) };
        const rec = await commandRollout(ctx, req.params.id, event);
        return rolloutStatus(ctx, rec);
      });
    }

    registerRolloutViewRoutes(app, ctx, reader, (c, rec) => rolloutStatus(c, rec, { stragglers: 20 }));

    app.post<{ Params: { id: string } }>('/v1/rollouts/:id/compensate', { onRequest: admin }, async (req) => {
      const b = parse(compensateRolloutBodySchema, req.body ?? {});
      return compensateRollout(ctx, req.params.id, {
        dryRun: b.dryRun,
        ...(b.effects ? { effects: b.effects } : {}),
        ...(b.note ? { note: b.note } : {}),
        ...(b.by ? { by: b.by } : {}),
      });
    });

    verdictRoutes()(app, ctx);
  };
}
