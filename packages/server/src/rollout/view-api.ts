/**
 * The read side a live view of a rollout needs (same scopes as `GET /v1/rollouts/{id}`):
 *
 *   GET /v1/rollouts/{id}/stragglers   ?cursor=&limit=   sessions still on blue, each with why
 *   GET /v1/rollouts/{id}/samples      ?after=&limit=    sessions by version and status over time
 *   GET /v1/rollouts/{id}/distributions               each gate's blue and green values, binned on shared edges
 *   GET /v1/rollouts/{id}/events       text/event-stream: `status` (the status view) whenever it changes
 *
 * The event stream is read with `fetch` (so the Authorization header is sent; `EventSource` cannot
 * send it). One watcher per rollout per process reads the store, however many clients listen.
 */
import {
  canonicalJson,
  samplesQuerySchema,
  sha256Hex,
  stragglersQuerySchema,
  type RolloutRecord,
} from '@baton/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServerContext } from '../context';
import { toWireError } from '../http-errors';
import { decodeCursor } from '../paging';
import { parse } from '../validation';
import { loadState } from './controller';
import { rolloutDistributions } from './distributions';
import { listStragglers } from './stragglers';

/** How often a watched rollout is read (one read per rollout, shared by every listener). */
export const ROLLOUT_EVENTS_INTERVAL_MS = 1000;
/** Without a change of rev, the whole view (with its session counts) is rebuilt every this many intervals. */
const FULL_EVERY = 5;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/** The status view of `GET /v1/rollouts/{id}` (passed in by the rollout routes, which own it). */
interface StatusView {
  rev: number;
  forecast: unknown;
}
type StatusOf = (ctx: ServerContext, rec: RolloutRecord) => Promise<StatusView>;

/** What identifies a view's content (the forecast's re-runs vary by themselves, so they are left out). */
const digestOf = (v: StatusView): string => sha256Hex(canonicalJson({ ...v, forecast: null }));

type Listener = (event: string, data: unknown) => void;

interface Watch {
  listeners: Set<Listener>;
  last: { digest: string; view: StatusView } | null;
  timer: NodeJS.Timeout | null;
  busy: boolean;
  /** Intervals since the view was last rebuilt. */
  ticks: number;
}

/** Shared watchers: a rollout is read once per interval whatever the number of open streams. */
class RolloutFeed {
  private readonly watches = new Map<string, Watch>();

  constructor(
    private readonly ctx: ServerContext,
    private readonly intervalMs: number,
    private readonly statusOf: StatusOf,
  ) {}

  subscribe(id: string, l: Listener, seed?: StatusView): () => void {
    let w = this.watches.get(id);
    if (!w) {
      w = { listeners: new Set(), last: null, timer: null, busy: false, ticks: 0 };
      this.watches.set(id, w);
      const watch = w;
      watch.timer = setInterval(() => void this.poll(id, watch), this.intervalMs);
      watch.timer.unref();
    }
    w.listeners.add(l);
    if (!w.last && seed) w.last = { digest: digestOf(seed), view: seed };
    else if (w.last) l('status', w.last.view);
    return () => {
      const cur = this.watches.get(id);
      if (!cur) return;
      cur.listeners.delete(l);
      if (cur.listeners.size === 0) {
        if (cur.timer) clearInterval(cur.timer);
        this.watches.delete(id);
      }
    };
  }

  /**
   * Tell the listeners when the rollout's view changed. Each interval reads the rollout record (one
   * row); the whole view (session counts over every session of the agent) is rebuilt when the
   * record's rev moved, and otherwise at most every FULL_EVERY intervals, so counts stay fresh
   * without a full count per second.
   */
  async poll(id: string, w: Watch): Promise<void> {
    if (w.busy) return;
    w.busy = true;
    try {
      const rec = await this.ctx.store.getRollout(id);
      w.ticks++;
      if (w.last && w.last.view.rev === rec.rev && w.ticks < FULL_EVERY) return;
      w.ticks = 0;
      const view = await this.statusOf(this.ctx, rec);
      const digest = digestOf(view);
      if (w.last?.digest !== digest) {
        w.last = { digest, view };
        for (const l of w.listeners) l('status', view);
      }
    } catch (e) {
      for (const l of w.listeners) l('error', toWireError(e).body);
    } finally {
      w.busy = false;
    }
  }

  close(): void {
    for (const w of this.watches.values()) if (w.timer) clearInterval(w.timer);
    this.watches.clear();
  }
}

function openStream(reply: FastifyReply): (event: string, data: unknown) => void {
  reply.hijack();
  reply.raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  return (event, data) => {
    reply.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
}

export function registerRolloutViewRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  reader: (req: { headers: { authorization?: string } }) => Promise<void>,
  statusOf: StatusOf,
  opts: { eventsIntervalMs?: number } = {},
): void {
  const feed = new RolloutFeed(ctx, opts.eventsIntervalMs ?? ROLLOUT_EVENTS_INTERVAL_MS, statusOf);
  const open = new Set<() => void>();
  app.addHook('onClose', async () => {
    feed.close();
    for (const end of [...open]) end();
  });

  app.get<{ Params: { id: string } }>('/v1/rollouts/:id/stragglers', { onRequest: reader }, async (req) => {
    const q = parse(stragglersQuerySchema, req.query, 'query');
    decodeCursor('stragglers', q.cursor); // a foreign cursor is refused before anything is read
    const rec = await ctx.store.getRollout(req.params.id);
    return listStragglers(ctx, rec, loadState(rec), { cursor: q.cursor, limit: q.limit ?? 20 });
  });

  app.get<{ Params: { id: string } }>('/v1/rollouts/:id/samples', { onRequest: reader }, async (req) => {
    const q = parse(samplesQuerySchema, req.query, 'query');
    await ctx.store.getRollout(req.params.id);
    const limit = q.limit ?? 1000;
    const items = await ctx.store.listSessionSamples(req.params.id, {
      ...(q.after !== undefined ? { after: q.after } : {}),
      limit,
    });
    const last = items[items.length - 1];
    return { items, nextAfter: items.length === limit && last ? last.at : null };
  });

  app.get<{ Params: { id: string } }>(
    '/v1/rollouts/:id/distributions',
    { onRequest: reader },
    async (req) => {
      const rec = await ctx.store.getRollout(req.params.id);
      const s = loadState(rec);
      return rolloutDistributions(ctx, {
        agent: rec.agent,
        blue: rec.from,
        green: rec.to,
        gates: s.spec.gates,
        start: s.trafficStartedAt ?? rec.createdAt,
        end: s.lastVerdicts?.at ?? ctx.clock.now(),
      });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/rollouts/:id/events',
    { onRequest: reader },
    async (req, reply) => {
      // refuse an unknown rollout with a plain 404 before the stream opens
      const first = await statusOf(ctx, await ctx.store.getRollout(req.params.id));
      const send = openStream(reply);
      send('status', first);
      const heartbeat = setInterval(() => reply.raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      let unsubscribe: (() => void) | null = null;
      const end = (): void => {
        clearInterval(heartbeat);
        unsubscribe?.();
        open.delete(end);
        if (!reply.raw.writableEnded) reply.raw.end();
      };
      open.add(end);
      let sentFirst = false;
      unsubscribe = feed.subscribe(
        req.params.id,
        (event, data) => {
          // the feed's cached view may be older than the one just sent
          if (!sentFirst && event === 'status' && (data as StatusView).rev < first.rev) return;
          sentFirst = true;
          send(event, data);
        },
        first,
      );
      req.raw.on('close', end);
      return reply;
    },
  );
}
