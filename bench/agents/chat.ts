/**
 * The chat agent of `npm run bench -- long-session`, served by `baton worker --agent
 * bench/agents/chat.ts` (the default export) or in-process by the migration part.
 *
 * - Answers a message of N bytes with a reply of the same size (the bench sends 1 KB).
 * - Keeps its prompt state in `ctx.context`: the last RECENT messages plus a running summary of
 *   the older ones, capped at SUMMARY_CHARS, so the context is bounded whatever the session's age.
 * - Builds it from the history window it receives (`ctx.history`: the window plus this turn's
 *   input), never from the whole history, and declares a window that covers what it reads: the
 *   RECENT messages of the previous context, the two entries of the previous turn that fall out of
 *   them into the summary, and some slack (`history: { window: { entries: WINDOW_ENTRIES } }`).
 * - State: a turn counter (changes every turn, so the state part is rewritten every turn as the
 *   context part is; memory is never set, so it is carried unchanged).
 *
 * The migration part uses versions built by `chatAgent`: schema 1 (`{turns}`), schema 2
 * (`{turns, topic}`, with an `up` migration), and a schema-2 version with `contextPolicy:
 * 'rebuild'` whose `rebuildContext` reads the window (`history.window()`).
 */
import { z } from 'zod';
import { defineAgent, type AgentDefinition, type HistoryReader } from '@baton/sdk';
import type { HistoryEntry, StoredHistoryEntry } from '@baton/core';

/** Messages kept verbatim in the context. */
export const RECENT = 4;
/** Cap of the running summary, in characters. */
export const SUMMARY_CHARS = 512;
/** Characters of each message that go into the summary. */
const DIGEST_CHARS = 24;
/** The history window the agent declares (RECENT + the previous turn's two entries + slack). */
export const WINDOW_ENTRIES = 8;

export interface ChatContext {
  /** The last RECENT messages, oldest first. */
  recent: Array<{ index: number; role: string; text: string }>;
  /** Digests of older messages, newest last, at most SUMMARY_CHARS. */
  summary: string;
  /** Index of the oldest entry in `recent` (everything below is summarized or was not in the window). */
  from: number;
}

const stateV1 = z.object({ turns: z.number().int() });
const stateV2 = z.object({ turns: z.number().int(), topic: z.string().nullable() });
type V1 = z.infer<typeof stateV1>;
type V2 = z.infer<typeof stateV2>;

function textOf(e: HistoryEntry): string {
  const c = e.content as { text?: unknown } | string | null;
  if (typeof c === 'string') return c;
  if (c && typeof c === 'object' && typeof c.text === 'string') return c.text;
  return JSON.stringify(c) ?? '';
}

/**
 * The next context from the previous one and the entries the agent can see (the window plus this
 * turn's entries, ascending by index). Entries that leave `recent` are folded into the summary;
 * entries older than the window that were never seen are skipped (e.g. after a rebuild).
 */
export function nextContext(prev: ChatContext | null, seen: readonly StoredHistoryEntry[]): ChatContext {
  const recent = seen.slice(-RECENT).map((e) => ({ index: e.index, role: e.role, text: textOf(e) }));
  const from = recent[0]?.index ?? prev?.from ?? 0;
  let summary = prev?.summary ?? '';
  const lower = prev?.from ?? 0;
  for (const e of seen) {
    if (e.index < lower || e.index >= from) continue;
    summary += `${summary ? ' | ' : ''}${e.role}: ${textOf(e).slice(0, DIGEST_CHARS)}`;
  }
  if (summary.length > SUMMARY_CHARS) summary = summary.slice(summary.length - SUMMARY_CHARS);
  return { recent, summary, from };
}

/** A reply of the same length as the message (deterministic, so runs compare the same bytes). */
export function replyTo(text: string, turn: number): string {
  const head = `reply ${turn}: `;
  const n = Math.max(text.length, head.length);
  let body = head;
  const rev = text.split('').reverse().join('') || 'ok';
  while (body.length < n) body += rev;
  return body.slice(0, n);
}

function isChatContext(c: unknown): c is ChatContext {
  return !!c && typeof c === 'object' && Array.isArray((c as ChatContext).recent);
}

const base = {
  modelId: 'bench-echo',
  prompts: { system: 'You are a patient assistant. Answer in the length you were asked in.' },
  history: { window: { entries: WINDOW_ENTRIES, bytes: 64 * 1024 } },
};

/** Schema-1 chat agent (the one `baton worker` serves). */
export function chatAgent(name: string, version: string): AgentDefinition<V1> {
  return defineAgent<V1>({
    ...base,
    name,
    version,
    schemaVersion: 1,
    state: stateV1,
    initialState: () => ({ turns: 0 }),
    turn(ctx) {
      const seen = ctx.history;
      const last = seen[seen.length - 1];
      const text = last ? textOf(last) : '';
      ctx.state.turns += 1;
      const out = replyTo(text, ctx.state.turns);
      // the context as the model would see it next turn: this turn's reply included
      ctx.context = nextContext(isChatContext(ctx.context) ? ctx.context : null, [
        ...seen,
        {
          role: 'agent',
          content: { text: out },
          turnId: ctx.turnId,
          at: ctx.now(),
          index: ctx.historyLength,
        },
      ]);
      ctx.model.record({ tokensIn: Math.ceil(text.length / 4), tokensOut: Math.ceil(out.length / 4) });
      return { text: out };
    },
  });
}

/** Schema-2 version of `name` (an `up` migration from schema 1); `rebuild` rebuilds the context from the window. */
export function chatAgentV2(name: string, version: string, rebuild = false): AgentDefinition<V2> {
  return defineAgent<V2>({
    ...base,
    name,
    version,
    schemaVersion: 2,
    state: stateV2,
    initialState: () => ({ turns: 0, topic: null }),
    migrations: {
      schemas: { 1: stateV1 },
      up: { 1: (s: V1): V2 => ({ turns: s.turns, topic: null }) },
    },
    ...(rebuild
      ? {
          contextPolicy: 'rebuild' as const,
          async rebuildContext(history: HistoryReader): Promise<ChatContext> {
            return nextContext(null, await history.window());
          },
        }
      : {}),
    turn(ctx) {
      const seen = ctx.history;
      const last = seen[seen.length - 1];
      const text = last ? textOf(last) : '';
      ctx.state.turns += 1;
      const out = replyTo(text, ctx.state.turns);
      ctx.context = nextContext(isChatContext(ctx.context) ? ctx.context : null, [
        ...seen,
        {
          role: 'agent',
          content: { text: out },
          turnId: ctx.turnId,
          at: ctx.now(),
          index: ctx.historyLength,
        },
      ]);
      return { text: out };
    },
  });
}

export const chat = chatAgent('chat', 'v1');
export default chat;
