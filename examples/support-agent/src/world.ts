/**
 * The simulated world of the support agent: an order database that is a pure function of the
 * order id, a seeded random source, and simulated users who know the truth about their own
 * orders (so a demo can judge answers and send thumbs up/down).
 */
import { createHash } from 'node:crypto';

export type OrderStatus = 'processing' | 'shipped' | 'delivered' | 'delayed' | 'lost';
export const ORDER_STATUSES: readonly OrderStatus[] = [
  'processing',
  'shipped',
  'delivered',
  'delayed',
  'lost',
];

export interface OrderFacts {
  orderId: string;
  status: OrderStatus;
  /** Order total in dollars. */
  amount: number;
  /** Days until delivery (0 once delivered). */
  etaDays: number;
}

/** Refunds above this amount wait for a human's approval. */
export const REFUND_LIMIT = 100;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The truth about an order: deterministic in the id. */
export function orderFacts(orderId: string): OrderFacts {
  const d = digest(`order:${orderId}`);
  const status = ORDER_STATUSES[d[0]! % ORDER_STATUSES.length]!;
  return {
    orderId,
    status,
    amount: 15 + (d.readUInt16BE(1) % 286),
    etaDays: status === 'delivered' ? 0 : 1 + (d[3]! % 9),
  };
}

/** A deterministic random source in [0, 1) seeded by a string (sha256 in counter mode). */
export function seeded(seed: string): () => number {
  let counter = 0;
  return () => digest(`${seed}#${counter++}`).readUInt32BE(0) / 2 ** 32;
}

export const ORDER_ID = /\b([A-Z]-\d{4})\b/;

export type Goal = 'status' | 'refund';

/** A simulated customer: one order, one goal, a short script of messages. */
export interface SimulatedUser {
  orderId: string;
  goal: Goal;
  /** Messages in order; the demo sends one per turn until the script ends or the session waits. */
  messages: string[];
  /** What an approver answers when a refund needs approval. */
  approval: { approved: boolean; by: string };
}

export function simulatedUser(seed: string): SimulatedUser {
  const r = seeded(`user:${seed}`);
  const orderId = `${'ABCDEFGH'[Math.floor(r() * 8)]}-${String(Math.floor(r() * 10000)).padStart(4, '0')}`;
  const goal: Goal = r() < 0.35 ? 'refund' : 'status';
  const angry = r() < 0.25;
  const opener = r() < 0.3 ? ['Hi there.'] : [];
  const ask =
    goal === 'refund'
      ? `${angry ? 'This is terrible. ' : ''}I want a refund for order ${orderId}.`
      : `${angry ? 'I am angry, this is taking forever. ' : ''}Where is my order ${orderId}?`;
  const followUp = r() < 0.5 ? ['Can you check the status again?'] : [];
  return {
    orderId,
    goal,
    messages: [...opener, ask, ...followUp, 'Thanks, bye.'],
    approval: { approved: r() < 0.7, by: r() < 0.5 ? 'lead@support' : 'manager@support' },
  };
}

/** The part of an agent output the judge looks at. */
export interface SupportAnswer {
  kind: 'status' | 'refund';
  orderId: string;
  status?: string;
  amount?: number;
}

/**
 * Whether an answer was correct, judged from the truth alone (not the agent's own flag):
 * a status answer must name the order's real status, a refund answer its real amount.
 */
export function judgeAnswer(output: unknown): boolean | null {
  const a = (output as { answer?: SupportAnswer | null } | null)?.answer;
  if (!a || typeof a.orderId !== 'string') return null;
  const truth = orderFacts(a.orderId);
  if (a.kind === 'status') return a.status === truth.status;
  if (a.kind === 'refund') return a.amount === truth.amount;
  return null;
}

/** The feedback a simulated user gives to an answer. */
export function userFeedback(output: unknown): 'thumbs_up' | 'thumbs_down' | null {
  const j = judgeAnswer(output);
  return j === null ? null : j ? 'thumbs_up' : 'thumbs_down';
}
