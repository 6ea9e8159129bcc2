/**
 * The LangGraph support agent as Baton versions `v1` and `v2` (drain-and-fill between them
 * migrates `orderId` → `orderRef` on every thread, interrupted ones included).
 */
import { z } from 'zod';
import { langGraphAgent } from '@baton/langgraph';
import type { GraphStoreSource, LangGraphAgent } from '@baton/langgraph';
import { buildV1, buildV2 } from './graphs';

export * from './graphs';

export const AGENT = 'support-lg';

/** A customer message: the graph input of a new request. */
export const SupportMessage = z.object({
  customer: z.string().min(1),
  /** The order the request is about; omitted on a follow-up about the same order. */
  order: z.string().min(1).optional(),
  request: z.string().min(1),
});
export type SupportMessage = z.infer<typeof SupportMessage>;

const approvalPayload = z.object({ approved: z.boolean(), by: z.string().optional() });

function output(values: Record<string, unknown>, info: { next: readonly string[]; interrupts: unknown[] }) {
  return {
    reply: typeof values.reply === 'string' ? values.reply : null,
    category: values.category ?? null,
    waitingFor: info.next.length > 0 ? info.next : null,
    question: (info.interrupts[0] as { question?: string } | undefined)?.question ?? null,
  };
}

/** v1; without `store` (a worker process), the graph checkpoints go through the Baton server. */
export function supportV1(store?: GraphStoreSource): LangGraphAgent {
  return langGraphAgent({
    name: AGENT,
    version: 'v1',
    graph: buildV1(),
    ...(store ? { store } : {}),
    input: (m) => {
      const msg = SupportMessage.parse(m);
      return { customer: msg.customer, request: msg.request, ...(msg.order ? { orderId: msg.order } : {}) };
    },
    output,
    waits: { approval: approvalPayload },
  });
}

/** v2; without `store` (a worker process), the graph checkpoints go through the Baton server. */
export function supportV2(store?: GraphStoreSource): LangGraphAgent {
  return langGraphAgent({
    name: AGENT,
    version: 'v2',
    graph: buildV2(),
    ...(store ? { store } : {}),
    migrations: [{ from: 'v1', rename: { orderId: 'orderRef' } }],
    input: (m) => {
      const msg = SupportMessage.parse(m);
      return { customer: msg.customer, request: msg.request, ...(msg.order ? { orderRef: msg.order } : {}) };
    },
    output,
    waits: { approval: approvalPayload },
  });
}
