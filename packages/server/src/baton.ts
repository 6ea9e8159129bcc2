/**
 * The composition root: store + HTTP server (router, admin API, rollout API) + rollout controller
 * (reconcile loop, eager migrator, wait deadlines) in one process. `baton serve` and `baton demo`
 * call `startBaton`; tests use it to run the whole thing on loopback.
 */
import { DASHBOARD_PATH, dashboardRoutes } from './dashboard';
import {
  checkInstanceId,
  newId,
  randomToken,
  systemClock,
  type Clock,
  type VersionManifest,
  type WorkerClient,
} from '@baton/core';
import { openStore, type OpenStoreOptions, type Store } from '@baton/store';
import {
  createServer,
  type BatonServer,
  type CreateServerOptions,
  type EvaluatorOptions,
  type RouteRegistrar,
} from './app';
import type { TokenConfig } from './auth';
import type { Limits, ServerContext } from './context';
import type { EvaluationRunner } from './evaluators/runner';
import { StoreLedgerClient } from './ledger';
import { Capabilities } from './capability';
import { RolloutController, type ControllerOptions } from './rollout/controller';
import { rolloutRoutes } from './rollout/api';
import { shadowRoutes } from './shadow/api';
import { controllerRoutes } from './rollout/leader-api';
import { Presence, type PresenceOptions } from './fleet';

/** An in-process worker with the manifest of the version it serves. */
export interface InProcessAgent {
  client: WorkerClient;
  manifest: VersionManifest;
}

/** An agent definition from `@baton/sdk` (`defineAgent`): served by an in-process worker. */
export interface AgentDefinitionLike {
  manifest(): VersionManifest;
}

export interface StartBatonOptions {
  /** A store, or a target for `openStore` (`./baton.db`, `sqlite:…`, `postgres://…`). */
  store: Store | string;
  storeOptions?: OpenStoreOptions;
  /** Port to listen on (0 picks a free one; default 0). */
  port?: number;
  host?: string;
  /** Bearer tokens by scope; missing scopes get one random token each (see `tokens` on the handle). */
  tokens?: Partial<TokenConfig>;
  /** In-process agents: `{client, manifest}` pairs or `defineAgent` definitions. */
  agents?: Array<InProcessAgent | AgentDefinitionLike>;
  /**
   * This process's identity (default: random per start). With a stable one, a restarted process
   * takes back its controller lock (and its leases) at once; a second live process with the same id
   * is refused (INSTANCE_ID_IN_USE), after waiting at most one presence lease time (2 s) for the
   * lease of a dead predecessor to expire.
   */
  instanceId?: string;
  /** Presence lease timings and callbacks (`onLost`: another process took this identity's lease). */
  presence?: Partial<Omit<PresenceOptions, 'clock'>>;
  /** Run the rollout controller here (default true), with options. */
  controller?: boolean | ControllerOptions;
  clock?: Clock;
  limits?: Partial<Limits>;
  logger?: CreateServerOptions['logger'];
  routes?: RouteRegistrar[];
  /** Serve the web dashboard under `/dashboard/` (default true). */
  dashboard?: boolean;
  /**
   * Evaluators on the traffic path: after each turn's commit the router offers the turn (input,
   * output, session, version) to an `EvaluationRunner`, which samples it (`sampleRate`), runs the
   * evaluators in the background (`concurrency`) and records scores as `eval.<name>` and
   * failures as `evalerr.<name>` in the session's aggregate. A full queue drops turns (counted).
   */
  evaluators?: EvaluatorOptions;
}

export interface RunningBaton {
  /** Base URL, e.g. `http://127.0.0.1:7070`. */
  url: string;
  /** The web dashboard's URL (null when `dashboard: false`). */
  dashboardUrl: string | null;
  port: number;
  store: Store;
  server: BatonServer;
  ctx: ServerContext;
  controller: RolloutController | null;
  /** The evaluation runner (`opts.evaluators`), or null: `drain()`, `stats()`. */
  evaluations: EvaluationRunner | null;
  tokens: TokenConfig;
  /**
   * Graceful shutdown: stop the controller (releasing its leader lock), stop accepting requests,
   * let in-flight turns finish within `deadlineMs` (default 10 s; then connections are cut and
   * their leases simply expire), close the workers, let queued evaluations finish (within the
   * same deadline) and, if `startBaton` opened it, the store.
   */
  close(opts?: { deadlineMs?: number }): Promise<void>;
}

function isInProcessAgent(a: InProcessAgent | AgentDefinitionLike): a is InProcessAgent {
  return typeof (a as InProcessAgent).client === 'object' && (a as InProcessAgent).manifest !== undefined;
}

async function workerFor(a: AgentDefinitionLike, store: Store, clock: Clock): Promise<InProcessAgent> {
  const sdk = (await import('@baton/sdk')) as {
    InProcessWorker: new (def: unknown, ledger: StoreLedgerClient, opts: { clock: Clock }) => WorkerClient;
  };
  return {
    client: new sdk.InProcessWorker(a, new StoreLedgerClient(store, new Capabilities(store, clock)), {
      clock,
    }),
    manifest: a.manifest(),
  };
}

export async function startBaton(opts: StartBatonOptions): Promise<RunningBaton> {
  const clock = opts.clock ?? systemClock;
  const ownStore = typeof opts.store === 'string';
  const store =
    typeof opts.store === 'string'
      ? await openStore(opts.store, { now: () => clock.now(), ...opts.storeOptions })
      : opts.store;
  const tokens: TokenConfig = {
    traffic: opts.tokens?.traffic?.length ? opts.tokens.traffic : [randomToken()],
    admin: opts.tokens?.admin?.length ? opts.tokens.admin : [randomToken()],
    worker: opts.tokens?.worker?.length ? opts.tokens.worker : [randomToken()],
    read: opts.tokens?.read ?? [],
  };
  let server: BatonServer | null = null;
  let controller: RolloutController | null = null;
  let presence: Presence | null = null;
  try {
    const instanceId = checkInstanceId(opts.instanceId ?? newId('rtr', clock.now()));
    presence = await Presence.acquire(store, instanceId, {
      clock,
      ...opts.presence,
      onLost:
        opts.presence?.onLost ??
        (() =>
          server?.ctx.log.error({ instanceId }, `presence: another process took instance id ${instanceId}`)),
      onError:
        opts.presence?.onError ??
        ((e) => server?.ctx.log.warn({ err: e }, 'presence: renewing the presence lease failed')),
    });
    server = createServer({
      store,
      clock,
      tokens,
      instanceId,
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
      routes: [
        rolloutRoutes(),
        shadowRoutes(),
        controllerRoutes(() => controller),
        ...(opts.dashboard === false ? [] : [dashboardRoutes()]),
        ...(opts.routes ?? []),
      ],
      ...(opts.evaluators ? { evaluators: opts.evaluators } : {}),
    });
    for (const w of store.warnings ?? []) server.ctx.log.warn({ store: 'sqlite' }, w);
    for (const a of opts.agents ?? []) {
      const agent = isInProcessAgent(a) ? a : await workerFor(a, store, clock);
      await server.pool.addInProcess(agent.client, agent.manifest);
    }
    const url = await server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
    const port = Number(new URL(url).port);
    if (opts.controller !== false) {
      controller = new RolloutController(server.ctx, {
        url,
        ...(typeof opts.controller === 'object' ? opts.controller : {}),
      });
      controller.start();
    }
    const srv = server;
    const ctl = controller;
    const pres = presence;
    let closing: Promise<void> | null = null;
    return {
      url,
      dashboardUrl: opts.dashboard === false ? null : `${url}${DASHBOARD_PATH}`,
      port,
      store,
      server: srv,
      ctx: srv.ctx,
      controller: ctl,
      evaluations: srv.ctx.evaluations,
      tokens,
      close(o = {}) {
        closing ??= (async () => {
          await ctl?.stop();
          const deadline = o.deadlineMs ?? 10_000;
          let timer: NodeJS.Timeout | undefined;
          const cut = new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              srv.app.server.closeAllConnections();
              resolve();
            }, deadline);
            timer.unref();
          });
          const closed = srv.close();
          // idle keep-alive connections would otherwise hold the close until the deadline
          srv.app.server.closeIdleConnections();
          await Promise.race([closed, cut]);
          await closed;
          // evaluations of turns already committed finish (within the deadline) before the store closes
          const evals = srv.ctx.evaluations;
          if (evals) await Promise.race([evals.drain(), cut]);
          clearTimeout(timer);
          await pres.release().catch(() => undefined);
          if (ownStore) await store.close();
        })();
        return closing;
      },
    };
  } catch (e) {
    await controller?.stop().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await presence?.release().catch(() => undefined);
    if (ownStore) await store.close().catch(() => undefined);
    throw e;
  }
}
