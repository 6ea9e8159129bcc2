/**
 * A small LangGraph support agent in two graph versions.
 *
 * v1: triage → (refund? approval : resolve) → resolve. A refund waits for a human approval
 *     (`interrupt`), which Baton turns into a wait named `approval`.
 * v2: the state key `orderId` is renamed `orderRef`, and a `survey` node runs after `resolve`.
 */
import { Annotation, END, START, StateGraph, interrupt } from '@langchain/langgraph';

const appendLog = {
  reducer: (a: string[], b: string[]) => a.concat(b),
  default: () => [] as string[],
};

/** What an approval interrupt asks for; the callback payload answers it. */
export interface ApprovalRequest {
  name: 'approval';
  orderRef: string;
  amount: number;
  question: string;
}

export interface ApprovalAnswer {
  approved: boolean;
  by?: string;
}

function amountOf(request: string): number {
  const m = /(\d+(?:\.\d+)?)/.exec(request);
  return m ? Number(m[1]) : 0;
}

function categoryOf(request: string): 'refund' | 'question' {
  return /refund|money back/i.test(request) ? 'refund' : 'question';
}

/** What the nodes both versions share read; the order reference is passed in, named per version. */
interface Ticket {
  customer: string;
  request: string;
  category: string;
  amount: number;
  approved: boolean | null;
}

function triage(s: Ticket) {
  const category = categoryOf(s.request);
  return { category, amount: amountOf(s.request), approved: null, log: [`triage:${category}`] };
}

function approval(s: Ticket, order: string) {
  const answer = interrupt<ApprovalRequest, ApprovalAnswer>({
    name: 'approval',
    orderRef: order,
    amount: s.amount,
    question: `Refund ${s.amount} on order ${order} for ${s.customer}?`,
  });
  return { approved: answer.approved === true, log: [`approval:${answer.approved ? 'yes' : 'no'}`] };
}

function resolve(s: Ticket, order: string) {
  const reply =
    s.category !== 'refund'
      ? `Thanks ${s.customer}, we answered your question about order ${order}.`
      : s.approved
        ? `Refund of ${s.amount} issued for order ${order}.`
        : `Refund for order ${order} was declined.`;
  return { reply, log: ['resolve'] };
}

// ---------- v1 ----------

export const StateV1 = Annotation.Root({
  customer: Annotation<string>,
  orderId: Annotation<string>,
  request: Annotation<string>,
  category: Annotation<string>,
  amount: Annotation<number>,
  approved: Annotation<boolean | null>,
  reply: Annotation<string>,
  log: Annotation<string[]>(appendLog),
});

export function buildV1() {
  return new StateGraph(StateV1)
    .addNode('triage', triage)
    .addNode('approval', (s) => approval(s, s.orderId))
    .addNode('resolve', (s) => resolve(s, s.orderId))
    .addEdge(START, 'triage')
    .addConditionalEdges('triage', (s) => (s.category === 'refund' ? 'approval' : 'resolve'), [
      'approval',
      'resolve',
    ])
    .addEdge('approval', 'resolve')
    .addEdge('resolve', END);
}

// ---------- v2: `orderId` → `orderRef`, plus a `survey` node ----------

export const StateV2 = Annotation.Root({
  customer: Annotation<string>,
  orderRef: Annotation<string>,
  request: Annotation<string>,
  category: Annotation<string>,
  amount: Annotation<number>,
  approved: Annotation<boolean | null>,
  reply: Annotation<string>,
  surveySent: Annotation<boolean>,
  log: Annotation<string[]>(appendLog),
});

export function buildV2() {
  return new StateGraph(StateV2)
    .addNode('triage', triage)
    .addNode('approval', (s) => approval(s, s.orderRef))
    .addNode('resolve', (s) => resolve(s, s.orderRef))
    .addNode('survey', () => ({ surveySent: true, log: ['survey'] }))
    .addEdge(START, 'triage')
    .addConditionalEdges('triage', (s) => (s.category === 'refund' ? 'approval' : 'resolve'), [
      'approval',
      'resolve',
    ])
    .addEdge('approval', 'resolve')
    .addEdge('resolve', 'survey')
    .addEdge('survey', END);
}
