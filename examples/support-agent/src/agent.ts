/**
 * A customer-support agent in several versions:
 *
 * - `v1`: state schema 1 (`orderId: string | null`);
 * - `v2`: state schema 2 (`orders: string[]` plus `sentiment`), with a real `up` migration 1→2
 *   and a `down` migration 2→1; rebuilds the working context in its own prompt format;
 * - `v3-chatty`: schema 2, same answers as v2, but looks every order up three times;
 * - `v3-wrong`: schema 2, answers wrong far more often (users give thumbs down);
 * - `v2-broken`: schema 2 whose migration throws for some schema-1 states (pre-flight demo);
 * - `v3-spammy`: schema 2, same answers as v2, plus a follow-up email after every status answer
 *   (an effect blue never made: what a shadow stage reports as a divergence).
 *
 * Tools: `lookup_order` (a read-only tool call); effects `create_ticket` (compensation
 * `cancel_ticket`) and `send_email` (compensation `send_correction_email`). Refunds above
 * REFUND_LIMIT wait for a human `approval` ({approved, by}). The model is simulated and
 * deterministic (seeded by session id and turn number) unless `BATON_LLM_URL` is set.
 */
import { z } from 'zod';
import { canonicalJson, compensationTurnId, sha256Hex } from '@baton/core';
import type { HistoryEntry, TurnInput } from '@baton/core';
import { defineAgent } from '@baton/sdk';
import type {
  AgentDefinition,
  CompensationFn,
  HistoryReader,
  MigrationContext,
  TurnContext,
} from '@baton/sdk';
import { chat, llmUrl } from './llm';
import type { ChatMessage } from './llm';
import { ORDER_ID, ORDER_STATUSES, REFUND_LIMIT, orderFacts, seeded } from './world';
import type { OrderFacts, OrderStatus } from './world';

export const AGENT_NAME = 'support';
/** Tokens in the (simulated) model's context window. */
export const CONTEXT_WINDOW = 8192;
/** How long a refund waits for approval. */
export const APPROVAL_TIMEOUT_MS = 24 * 3600_000;

const refundSchema = z.object({
  orderId: z.string(),
  amount: z.number(),
  status: z.enum(['pending', 'approved', 'denied', 'expired']),
});

export const stateV1 = z.object({
  orderId: z.string().nullable(),
  ticketId: z.string().nullable(),
  refund: refundSchema.nullable(),
  turns: z.number().int().nonnegative(),
  resolved: z.boolean(),
});
export type StateV1 = z.infer<typeof stateV1>;

export const sentimentSchema = z.enum(['positive', 'neutral', 'negative']);
export type Sentiment = z.infer<typeof sentimentSchema>;

export const stateV2 = z.object({
  orders: z.array(z.string()),
  sentiment: sentimentSchema,
  ticketId: z.string().nullable(),
  refund: refundSchema.nullable(),
  turns: z.number().int().nonnegative(),
  resolved: z.boolean(),
});
export type StateV2 = z.infer<typeof stateV2>;

type AnyState = StateV1 | StateV2;

/** The payload a human approver sends to `POST /v1/callbacks/{token}`. */
export const approvalPayload = z.object({ approved: z.boolean(), by: z.string().min(1) });
/** The waits every version declares: `ctx.payload('approval')` is typed by them. */
const supportWaits = { approval: approvalPayload };
type SupportWaits = typeof supportWaits;

export function messageText(m: unknown): string {
  if (typeof m === 'string') return m;
  if (m && typeof m === 'object' && typeof (m as { text?: unknown }).text === 'string')
    return (m as { text: string }).text;
  return m === undefined || m === null ? '' : JSON.stringify(m);
}

const NEGATIVE = /\b(angry|terrible|awful|worst|ridiculous|forever|useless|unacceptable)\b/gi;
const POSITIVE = /\b(thanks|thank you|great|perfect|awesome|appreciate)\b/gi;

/** Sentiment of a customer from their messages, the most recent weighing most. */
export function sentimentOf(texts: readonly string[]): Sentiment {
  let score = 0;
  texts.forEach((t, i) => {
    const w = 1 + i / Math.max(1, texts.length);
    score += w * ((t.match(POSITIVE)?.length ?? 0) - (t.match(NEGATIVE)?.length ?? 0));
  });
  return score > 0.5 ? 'positive' : score < -0.5 ? 'negative' : 'neutral';
}

function userTexts(history: readonly HistoryEntry[]): string[] {
  return history.filter((h) => h.role === 'user').map((h) => messageText(h.content));
}

/**
 * Schema 1 → 2: the single `orderId` becomes the list of every order the customer mentioned
 * (recovered from the history, the current one last), and the customer's sentiment is derived
 * from their messages.
 *
 * Cost: this reads the session's whole history log (`history.all()`, pages of 1000 entries
 * through the router), O(history) per migrated session, because an order mentioned long ago is
 * still one of the customer's orders. Only the users' texts are kept in memory.
 */
export async function up1to2(s: StateV1, ctx: MigrationContext): Promise<StateV2> {
  const texts: string[] = [];
  for await (const e of ctx.history.all()) if (e.role === 'user') texts.push(messageText(e.content));
  const orders: string[] = [];
  for (const t of texts) {
    for (const m of t.matchAll(new RegExp(ORDER_ID.source, 'g'))) {
      const id = m[1]!;
      const at = orders.indexOf(id);
      if (at >= 0) orders.splice(at, 1);
      orders.push(id);
    }
  }
  if (s.orderId) {
    const at = orders.indexOf(s.orderId);
    if (at >= 0) orders.splice(at, 1);
    orders.push(s.orderId);
  }
  return {
    orders,
    sentiment: sentimentOf(texts),
    ticketId: s.ticketId,
    refund: s.refund,
    turns: s.turns,
    resolved: s.resolved,
  };
}

/** Schema 2 → 1: keep the most recent order; the sentiment is dropped. */
export function down2to1(s: StateV2): StateV1 {
  return {
    orderId: s.orders.at(-1) ?? null,
    ticketId: s.ticketId,
    refund: s.refund,
    turns: s.turns,
    resolved: s.resolved,
  };
}

/** The broken candidate's migration: it cannot parse order ids ending in 7. */
export async function up1to2Broken(s: StateV1, ctx: MigrationContext): Promise<StateV2> {
  if (s.orderId && s.orderId.endsWith('7'))
    throw new Error(`cannot convert legacy order id ${s.orderId} (no warehouse prefix)`);
  return up1to2(s, ctx);
}

/** Behaviour of one version. */
export interface Profile {
  label: string;
  schemaVersion: 1 | 2;
  /** Probability that the simulated model answers correctly. */
  quality: number;
  /** How many times the order is looked up per answer. */
  toolFanout: number;
  modelId: string;
  prompt: string;
  /** Sends a follow-up email after every order-status answer (an effect blue never made). */
  followUpEmail?: boolean;
}

const PROMPT_V1 =
  'You are a support agent for an online shop. Look up the order before answering. Be concise.';
const PROMPT_V2 =
  'You are a friendly support agent for an online shop. Always look up the order, state its status ' +
  'and delivery estimate, and acknowledge the customer’s feelings. Refunds above $100 need approval.';

export const PROFILES: Record<string, Profile> = {
  v1: {
    label: 'v1',
    schemaVersion: 1,
    quality: 0.9,
    toolFanout: 1,
    modelId: 'sim-support-1',
    prompt: PROMPT_V1,
  },
  v2: {
    label: 'v2',
    schemaVersion: 2,
    quality: 0.92,
    toolFanout: 1,
    modelId: 'sim-support-2',
    prompt: PROMPT_V2,
  },
  'v3-chatty': {
    label: 'v3-chatty',
    schemaVersion: 2,
    quality: 0.92,
    toolFanout: 3,
    modelId: 'sim-support-2',
    prompt: PROMPT_V2,
  },
  'v3-wrong': {
    label: 'v3-wrong',
    schemaVersion: 2,
    quality: 0.55,
    toolFanout: 1,
    modelId: 'sim-support-2',
    prompt: `${PROMPT_V2} Answer as fast as possible.`,
  },
  'v3-spammy': {
    label: 'v3-spammy',
    schemaVersion: 2,
    quality: 0.92,
    toolFanout: 1,
    modelId: 'sim-support-2',
    prompt: PROMPT_V2,
    followUpEmail: true,
  },
  'v2-broken': {
    label: 'v2-broken',
    schemaVersion: 2,
    quality: 0.92,
    toolFanout: 1,
    modelId: 'sim-support-2',
    prompt: PROMPT_V2,
  },
};

/** The working context: the exact prompt state the model sees. */
export interface PromptContext {
  format: 'v1' | 'v2';
  system: string;
  /** v2 only: what the agent knows, in one line. */
  summary?: string;
  messages: ChatMessage[];
}

const KEEP_MESSAGES = 12;

function entryMessage(h: HistoryEntry): ChatMessage | null {
  if (h.role === 'user') return { role: 'user', content: messageText(h.content) };
  if (h.role === 'agent') return { role: 'assistant', content: messageText(h.content) };
  if (h.role === 'callback') return { role: 'user', content: `[callback] ${JSON.stringify(h.content)}` };
  return null;
}

function summaryOf(state: AnyState): string {
  const orders = 'orders' in state ? state.orders : state.orderId ? [state.orderId] : [];
  const sentiment = 'sentiment' in state ? state.sentiment : 'unknown';
  return `orders: ${orders.join(', ') || 'none'}; sentiment: ${sentiment}; ticket: ${state.ticketId ?? 'none'}`;
}

/**
 * Builds the working context of a profile from recent history (used each turn on `ctx.history`,
 * the window, and by `rebuildContext` on `history.window()`): it keeps only the last
 * KEEP_MESSAGES messages plus a summary of the state, so the window is all it ever needs.
 */
export function buildContext(p: Profile, history: readonly HistoryEntry[], state: AnyState): PromptContext {
  const messages = history.map(entryMessage).filter((m): m is ChatMessage => m !== null);
  const ctx: PromptContext = {
    format: p.schemaVersion === 1 ? 'v1' : 'v2',
    system: p.prompt,
    messages: messages.slice(-KEEP_MESSAGES),
  };
  if (ctx.format === 'v2') ctx.summary = summaryOf(state);
  return ctx;
}

function isContext(c: unknown, p: Profile): c is PromptContext {
  return (
    !!c &&
    typeof c === 'object' &&
    (c as PromptContext).format === (p.schemaVersion === 1 ? 'v1' : 'v2') &&
    Array.isArray((c as PromptContext).messages)
  );
}

function tokensOf(c: PromptContext): number {
  return Math.ceil(JSON.stringify(c).length / 4);
}

interface ModelAnswer {
  correct: boolean;
  status: OrderStatus | 'unknown';
  amount: number;
  text: string;
  reasoning: number;
  tokensIn: number;
  tokensOut: number;
}

/** The simulated model: right with probability `quality`, seeded by session and turn number. */
function simulateModel(p: Profile, seed: string, facts: OrderFacts, promptTokens: number): ModelAnswer {
  const r = seeded(seed);
  const correct = r() < p.quality;
  const others = ORDER_STATUSES.filter((s) => s !== facts.status);
  const status = correct ? facts.status : others[Math.floor(r() * others.length)]!;
  const amount = correct ? facts.amount : facts.amount + 5 + Math.floor(r() * 40);
  return {
    correct,
    status,
    amount,
    text: '',
    reasoning: 1 + Math.floor(r() * 3),
    tokensIn: promptTokens + 60,
    tokensOut: 30 + Math.floor(r() * 90),
  };
}

async function realModel(
  p: Profile,
  context: PromptContext,
  facts: OrderFacts,
  signal: AbortSignal,
): Promise<ModelAnswer> {
  const messages: ChatMessage[] = [
    { role: 'system', content: context.summary ? `${context.system}\n${context.summary}` : context.system },
    ...context.messages,
    { role: 'system', content: `lookup_order result: ${JSON.stringify(facts)}` },
  ];
  const reply = await chat(p.modelId, messages, signal);
  const lower = reply.text.toLowerCase();
  const status = ORDER_STATUSES.find((s) => lower.includes(s)) ?? 'unknown';
  const amount = reply.text.includes(String(facts.amount)) ? facts.amount : -1;
  return {
    correct: status === facts.status,
    status,
    amount,
    text: reply.text,
    reasoning: 1,
    tokensIn: reply.tokensIn,
    tokensOut: reply.tokensOut,
  };
}

/** Receives every effect the agent actually executes (for demos and tests that count them). */
export type EffectSink = (name: string, args: unknown, meta: { sessionId: string; turnId: string }) => void;

export interface SupportDeps {
  onEffect?: EffectSink;
  /** Called when a compensation's own effect executes (cancelling a ticket, sending a correction). */
  onCompensation?: EffectSink;
}

/** The answer of a support turn. */
export interface SupportOutput {
  text: string;
  answer: { kind: 'status' | 'refund'; orderId: string; status?: string; amount?: number } | null;
  /** Whether the answer was right (null when the turn gave no factual answer). */
  correct: boolean | null;
  version: string;
}

function orderList(s: AnyState): string[] {
  return 'orders' in s ? s.orders : s.orderId ? [s.orderId] : [];
}

function remember(s: AnyState, id: string): void {
  if ('orders' in s) {
    const at = s.orders.indexOf(id);
    if (at >= 0) s.orders.splice(at, 1);
    s.orders.push(id);
  } else s.orderId = id;
}

/** The turn handler shared by every version; the profile says how the version behaves. */
export async function supportTurn(
  p: Profile,
  deps: SupportDeps,
  ctx: TurnContext<AnyState, SupportWaits>,
  input: TurnInput,
): Promise<SupportOutput> {
  const s = ctx.state;
  s.turns += 1;
  const meta = { sessionId: ctx.session.id, turnId: ctx.turnId };
  const customer = `customer-${ctx.session.id}@example.com`;
  const ticketOf = (reason: string) => ({
    ticketId: `TCK-${sha256Hex(`${meta.sessionId}:${meta.turnId}:${reason}`).slice(0, 8)}`,
  });
  const createTicket = (orderId: string, reason: string) =>
    ctx.effect(
      'create_ticket',
      { orderId, reason, customer },
      (args: unknown) => {
        deps.onEffect?.('create_ticket', args, meta);
        return ticketOf(reason);
      },
      { compensate: 'cancel_ticket' },
    );
  const sendEmail = (template: string, data: Record<string, unknown>) =>
    ctx.effect(
      'send_email',
      { to: customer, template, ...data },
      (args: unknown) => {
        deps.onEffect?.('send_email', args, meta);
        return { messageId: `MSG-${sha256Hex(`${meta.sessionId}:${meta.turnId}:${template}`).slice(0, 8)}` };
      },
      { compensate: 'send_correction_email' },
    );
  const out = (
    text: string,
    answer: SupportOutput['answer'] = null,
    correct: boolean | null = null,
  ): SupportOutput => ({
    text,
    answer,
    correct,
    version: p.label,
  });
  const context = isContext(ctx.context, p) ? ctx.context : buildContext(p, ctx.history.slice(0, -1), s);
  const pushContext = (m: ChatMessage): void => {
    context.messages.push(m);
    if (context.messages.length > KEEP_MESSAGES)
      context.messages.splice(0, context.messages.length - KEEP_MESSAGES);
  };
  const finish = (o: SupportOutput): SupportOutput => {
    pushContext({ role: 'assistant', content: o.text });
    if (context.format === 'v2') context.summary = summaryOf(s);
    ctx.context = context;
    return o;
  };

  if (input.kind === 'callback') {
    pushContext({ role: 'user', content: `[callback ${input.name}] ${JSON.stringify(input.payload)}` });
    const approval = ctx.payload('approval');
    const refund = s.refund;
    if (!refund || refund.status !== 'pending')
      return finish(out('There is no refund waiting for approval.'));
    refund.status = approval.approved ? 'approved' : 'denied';
    await sendEmail(approval.approved ? 'refund_approved' : 'refund_denied', {
      orderId: refund.orderId,
      amount: refund.amount,
      by: approval.by,
    });
    s.resolved = true;
    ctx.reasoningStep();
    return finish(
      out(
        approval.approved
          ? `Good news: your refund of $${refund.amount} for order ${refund.orderId} was approved.`
          : `Sorry, your refund for order ${refund.orderId} was not approved.`,
      ),
    );
  }
  if (input.kind === 'timeout') {
    pushContext({ role: 'user', content: `[timeout ${input.name}]` });
    if (s.refund?.status === 'pending') s.refund.status = 'expired';
    ctx.signal('escalation');
    return finish(out('Your refund is taking longer than expected; a team lead will contact you.'));
  }

  const text = messageText(input.message);
  pushContext({ role: 'user', content: text });
  if ('sentiment' in s) s.sentiment = sentimentOf(userTexts(ctx.history));
  const promptTokens = tokensOf(context);
  ctx.model.record({ contextUtilization: Math.min(1, promptTokens / CONTEXT_WINDOW) });

  if (/\b(bye|goodbye)\b/i.test(text)) {
    s.resolved = true;
    ctx.model.record({ tokensIn: promptTokens, tokensOut: 12 });
    ctx.reasoningStep();
    ctx.complete();
    return finish(out('Glad I could help. Goodbye!'));
  }
  const orderId = text.match(ORDER_ID)?.[1] ?? orderList(s).at(-1);
  if (!orderId) {
    ctx.model.record({ tokensIn: promptTokens, tokensOut: 20 });
    ctx.reasoningStep();
    ctx.signal('clarification');
    return finish(out('Could you give me your order number? It looks like A-1234.'));
  }
  remember(s, orderId);
  s.resolved = false;
  const wantsRefund = /\b(refund|money back)\b/i.test(text);
  if (wantsRefund && s.refund?.orderId === orderId && s.refund.status === 'pending') {
    ctx.model.record({ tokensIn: promptTokens, tokensOut: 25 });
    ctx.reasoningStep();
    return finish(out(`Your refund for order ${orderId} is still waiting for approval.`));
  }

  let facts = orderFacts(orderId);
  for (let i = 0; i < p.toolFanout; i++) facts = await ctx.tool('lookup_order', () => orderFacts(orderId));
  ctx.note('tool', { tool: 'lookup_order', result: facts });

  const m = await ctx.step('model', async () => {
    const a = llmUrl()
      ? await realModel(p, context, facts, ctx.abortSignal)
      : simulateModel(p, `${ctx.session.id}:${s.turns}`, facts, promptTokens + 40 * p.toolFanout);
    ctx.reasoningStep(a.reasoning);
    ctx.model.record({ tokensIn: a.tokensIn, tokensOut: a.tokensOut });
    return a;
  });
  ctx.metric('eval.resolution', m.correct ? 1 : 0);

  if (!wantsRefund) {
    const answer = { kind: 'status' as const, orderId, status: m.status };
    if ((facts.status === 'delayed' || facts.status === 'lost') && !s.ticketId) {
      const t = await createTicket(orderId, facts.status);
      s.ticketId = t.ticketId;
      await sendEmail('order_issue', { orderId, ticketId: t.ticketId });
      if ('sentiment' in s && s.sentiment === 'negative') ctx.signal('escalation');
    }
    const eta =
      m.status === 'delivered' || m.status === 'lost' ? '' : ` Expected in ${facts.etaDays} day(s).`;
    const said =
      m.text ||
      `Your order ${orderId} is ${m.status}.${eta}${s.ticketId ? ` Ticket ${s.ticketId} is open.` : ''}`;
    if (m.status !== 'delayed' && m.status !== 'lost') s.resolved = true;
    if (p.followUpEmail) await sendEmail('follow_up', { orderId });
    return finish(out(said, answer, m.correct));
  }

  const answer = { kind: 'refund' as const, orderId, amount: m.amount };
  if (!s.ticketId) s.ticketId = (await createTicket(orderId, 'refund')).ticketId;
  if (facts.amount > REFUND_LIMIT) {
    s.refund = { orderId, amount: facts.amount, status: 'pending' };
    ctx.waitFor('approval', { timeout: APPROVAL_TIMEOUT_MS, schema: approvalPayload });
    return finish(
      out(
        m.text ||
          `A refund of $${m.amount} for order ${orderId} needs a manager's approval; I'll let you know.`,
        answer,
        m.correct,
      ),
    );
  }
  s.refund = { orderId, amount: facts.amount, status: 'approved' };
  await sendEmail('refund_issued', { orderId, amount: facts.amount });
  s.resolved = true;
  return finish(out(m.text || `I refunded $${m.amount} for order ${orderId}.`, answer, m.correct));
}

/**
 * The compensations every version declares. Each undoes one effect from what the ledger recorded
 * (its args and result), through its own `ctx.effect`, so a compensation retried after a crash
 * never cancels a ticket or sends a correction twice.
 */
export function supportCompensations(deps: SupportDeps = {}): Record<string, CompensationFn> {
  const run =
    (name: string, meta: { sessionId: string; turnId: string }) =>
    (args: unknown): void =>
      deps.onCompensation?.(name, args, meta);
  return {
    cancel_ticket: async (ctx, { args, result, effect }) => {
      const ticketId = (result as { ticketId?: unknown } | null)?.ticketId;
      if (typeof ticketId !== 'string') throw new Error(`effect ${effect.id} recorded no ticket id`);
      const meta = { sessionId: effect.sessionId, turnId: compensationTurnId(effect.id) };
      const customer = (args as { customer?: unknown } | null)?.customer ?? null;
      return ctx.effect('cancel_ticket', { ticketId, customer }, (a: unknown) => {
        run('cancel_ticket', meta)(a);
        return { cancelled: ticketId };
      });
    },
    send_correction_email: async (ctx, { args, result, effect }) => {
      const to = (args as { to?: unknown } | null)?.to;
      if (typeof to !== 'string') throw new Error(`effect ${effect.id} recorded no recipient`);
      const corrects = (result as { messageId?: unknown } | null)?.messageId ?? null;
      const meta = { sessionId: effect.sessionId, turnId: compensationTurnId(effect.id) };
      return ctx.effect('send_email', { to, template: 'correction', corrects }, (a: unknown) => {
        run('send_email', meta)(a);
        return { messageId: `MSG-${sha256Hex(`${effect.id}:correction`).slice(0, 8)}`, corrects };
      });
    },
  };
}

const TOOLS = [
  {
    name: 'lookup_order',
    description: 'Look up an order by id (status, amount, delivery estimate).',
    parameters: z.object({ orderId: z.string() }),
  },
  {
    name: 'create_ticket',
    description: 'Open a support ticket (effect; compensation cancel_ticket).',
    parameters: z.object({ orderId: z.string(), reason: z.string() }),
  },
  {
    name: 'send_email',
    description: 'Email the customer (effect; compensation send_correction_email).',
    parameters: z.object({ to: z.string(), template: z.string() }),
  },
];

/** Source of everything a turn runs, so a change to any of it changes the version's code hash. */
const BEHAVIOUR_SOURCE = [
  supportTurn,
  simulateModel,
  realModel,
  buildContext,
  sentimentOf,
  orderFacts,
  supportCompensations,
]
  .map((f) => f.toString())
  .join('\n');

function buildOf(p: Profile): string {
  return sha256Hex(`${BEHAVIOUR_SOURCE}\n${canonicalJson(p)}`);
}

/** Builds the v1 agent (schema 1). */
export function supportV1(deps: SupportDeps = {}): AgentDefinition<StateV1> {
  const p = PROFILES.v1!;
  return defineAgent({
    name: AGENT_NAME,
    version: p.label,
    schemaVersion: 1,
    state: stateV1,
    initialState: () => ({ orderId: null, ticketId: null, refund: null, turns: 0, resolved: false }),
    modelId: p.modelId,
    prompts: { system: p.prompt },
    tools: TOOLS,
    contextPolicy: 'carry',
    waits: supportWaits,
    build: buildOf(p),
    compensations: supportCompensations(deps),
    turn: (ctx, input) => supportTurn(p, deps, ctx as unknown as TurnContext<AnyState, SupportWaits>, input),
  });
}

/** Builds a schema-2 agent for a profile (`v2`, `v3-chatty`, `v3-wrong`, `v2-broken`). */
export function supportV2Family(label: string, deps: SupportDeps = {}): AgentDefinition<StateV2> {
  const p = PROFILES[label];
  if (!p || p.schemaVersion !== 2) throw new Error(`no schema-2 profile ${label}`);
  return defineAgent({
    name: AGENT_NAME,
    version: p.label,
    schemaVersion: 2,
    state: stateV2,
    initialState: () => ({
      orders: [],
      sentiment: 'neutral',
      ticketId: null,
      refund: null,
      turns: 0,
      resolved: false,
    }),
    migrations: {
      up: { 1: label === 'v2-broken' ? up1to2Broken : up1to2 },
      down: { 1: down2to1 },
      schemas: { 1: stateV1 },
    },
    modelId: p.modelId,
    prompts: { system: p.prompt },
    tools: TOOLS,
    contextPolicy: 'rebuild',
    rebuildContext: async (history: HistoryReader, state) => buildContext(p, await history.window(), state),
    waits: supportWaits,
    build: buildOf(p),
    compensations: supportCompensations(deps),
    turn: (ctx, input) => supportTurn(p, deps, ctx as unknown as TurnContext<AnyState, SupportWaits>, input),
  });
}
