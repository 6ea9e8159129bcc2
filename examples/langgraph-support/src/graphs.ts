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
    .addNode('triage', (s) => {
      const category = categoryOf(s.request);
      return { category, amount: amountOf(s.request), approved: null, log: [`triage:${category}`] };
    })
    .addNode('approval', (s) => {
      const answer = interrupt<ApprovalRequest, ApprovalAnswer>({
        name: 'approval',
        orderRef: s.orderId,
        amount: s.amount,
        question: `Refund ${s.amount} on order ${s.orderId} for ${s.customer}?`,
      });
      return { approved: answer.approved === true, log: [`approval:${answer.approved ? 'yes' : 'no'}`] };
    })
    .addNode('resolve', (s) => {
      const reply =
        s.category !== 'refund'
          ? `Thanks ${s.customer}, we answered your question about order ${s.orderId}.`
          : s.approved
            ? `Refund of ${s.amount} issued for order ${s.orderId}.`
            : `Refund for order ${s.orderId} was declined.`;
      return { reply, log: ['resolve'] };
    })
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
    .addNode('triage', (s) => {
      const category = categoryOf(s.request);
      return { category, amount: amountOf(s.request), approved: null, log: [`triage:${category}`] };
    })
    .addNode('approval', (s) => {
      const answer = interrupt<ApprovalRequest, ApprovalAnswer>({
        name: 'approval',
        orderRef: s.orderRef,
        amount: s.amount,
        question: `Refund ${s.amount} on order ${s.orderRef} for ${s.customer}?`,
      });
      return { approved: answer.approved === true, log: [`approval:${answer.approved ? 'yes' : 'no'}`] };
    })
    .addNode('resolve', (s) => {
      const reply =
        s.category !== 'refund'
          ? `Thanks ${s.customer}, we answered your question about order ${s.orderRef}.`
          : s.approved
            ? `Refund of ${s.amount} issued for order ${s.orderRef}.`
            : `Refund for order ${s.orderRef} was declined.`;
      return { reply, log: ['resolve'] };
    })
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
