/**
 * The sandbox of a shadow turn: `ctx.effect` never calls `run` — it returns what blue's ledger
 * recorded for the call at the same position, when the name and the arguments match, and records
 * a divergence otherwise; `ctx.tool` replays blue's recorded result for tools declared `replay`
 * and runs the others (read-only by contract). Nothing here touches the ledger.
 */
import { BatonError, canonicalJson, ValidationError } from '@baton/core';
import type { RecordedEffect, ShadowDivergence, ShadowReport, ShadowTurn } from '@baton/core';
import { toJson } from './effect';

/** How a version behaves in shadow turns (`defineAgent({shadow})`). */
export interface ShadowPolicy {
  /**
   * An effect call that does not match blue's recording (another name or other arguments at its
   * position, or one blue never made): `placeholder` (default) returns `placeholder` and the turn
   * goes on; `fail` fails the shadow turn with SHADOW_DIVERGED. Either way the divergence is reported.
   */
  onDivergence?: 'placeholder' | 'fail';
  /** What a diverging effect call returns under `onDivergence: placeholder` (default null). */
  placeholder?: unknown;
  /**
   * Per tool name: `run` (default: `ctx.tool` is read-only, so a shadow turn runs it too) or
   * `replay`: a live turn records the tool's result in the history (a `tool` entry
   * `{tool, result}`) and a shadow turn returns the recorded result instead of running it.
   */
  tools?: Record<string, 'run' | 'replay'>;
}

export type ToolMode = 'run' | 'replay';

export function toolMode(policy: ShadowPolicy | undefined, name: string): ToolMode {
  return policy?.tools?.[name] === 'replay' ? 'replay' : 'run';
}

/** Checks a declared shadow policy; returns a plain copy of the known fields. */
export function shadowPolicy(p: ShadowPolicy): ShadowPolicy {
  if (!p || typeof p !== 'object') throw new ValidationError('shadow must be an object');
  const out: ShadowPolicy = {};
  if (p.onDivergence !== undefined) {
    if (p.onDivergence !== 'placeholder' && p.onDivergence !== 'fail')
      throw new ValidationError('shadow.onDivergence must be placeholder or fail');
    out.onDivergence = p.onDivergence;
  }
  if (p.placeholder !== undefined) out.placeholder = toJson(p.placeholder);
  if (p.tools !== undefined) {
    if (!p.tools || typeof p.tools !== 'object') throw new ValidationError('shadow.tools must be an object');
    out.tools = {};
    for (const [k, v] of Object.entries(p.tools)) {
      if (v !== 'run' && v !== 'replay') throw new ValidationError(`shadow.tools.${k} must be run or replay`);
      out.tools[k] = v;
    }
  }
  return out;
}

/** The content of the history entry a live turn records a `replay` tool's result in. */
export interface ToolRecord {
  tool: string;
  result: unknown;
}

export function isToolRecord(content: unknown): content is ToolRecord {
  return (
    !!content &&
    typeof content === 'object' &&
    typeof (content as { tool?: unknown }).tool === 'string' &&
    'result' in content
  );
}

function sameArgs(a: unknown, b: unknown): boolean {
  return canonicalJson(toJson(a) ?? null) === canonicalJson(toJson(b) ?? null);
}

/** One shadow turn's sandbox: positions, recorded results, and what diverged. */
export class ShadowSandbox {
  private readonly called: ShadowReport['effects'] = [];
  private readonly divergences: ShadowDivergence[] = [];
  private readonly toolsSeen = new Map<string, number>();
  private replayedTools = 0;
  private ranTools = 0;

  constructor(
    private readonly recorded: ShadowTurn,
    private readonly policy: ShadowPolicy | undefined,
  ) {}

  /** The result of effect #`index` of the shadow turn, from blue's recording; never runs anything. */
  effect(index: number, name: string, args: unknown): unknown {
    const rec: RecordedEffect | undefined = this.recorded.effects[index];
    const plainArgs = toJson(args) ?? null;
    if (rec && rec.name === name && sameArgs(rec.args, plainArgs)) {
      this.called.push({ name, args: plainArgs, replayed: true });
      switch (rec.status) {
        case 'committed':
          return toJson(rec.result);
        case 'failed':
          throw new BatonError('EFFECT_FAILED', `effect ${name} failed: ${rec.error ?? 'unknown error'}`, {
            replayed: true,
            shadow: true,
          });
        case 'intent':
          throw new BatonError(
            'EFFECT_IN_DOUBT',
            `effect ${name} (#${index}) is in doubt in blue's ledger: a shadow turn has no result to return`,
            { name, shadow: true },
          );
      }
    }
    this.called.push({ name, args: plainArgs, replayed: false });
    const kind = !rec ? 'effect-extra' : rec.name !== name ? 'effect-name' : 'effect-args';
    const d: ShadowDivergence = { kind, index, name, args: plainArgs };
    if (rec) d.recorded = { name: rec.name, args: rec.args };
    this.divergences.push(d);
    if (this.policy?.onDivergence === 'fail')
      throw new BatonError(
        'SHADOW_DIVERGED',
        `shadow turn: effect #${index} ${name} does not match blue's recording (${kind})`,
        { divergence: d },
      );
    return toJson(this.policy?.placeholder ?? null);
  }

  /** A `replay` tool's recorded result (the n-th call of that tool), or a divergence and the placeholder. */
  replayTool(name: string): unknown {
    const n = this.toolsSeen.get(name) ?? 0;
    this.toolsSeen.set(name, n + 1);
    const rec = this.recorded.tools.filter((t) => t.name === name)[n];
    if (rec) {
      this.replayedTools++;
      return toJson(rec.result);
    }
    this.divergences.push({ kind: 'tool-unrecorded', index: n, name });
    if (this.policy?.onDivergence === 'fail')
      throw new BatonError('SHADOW_DIVERGED', `shadow turn: tool ${name} call #${n} has no recorded result`, {
        name,
      });
    return toJson(this.policy?.placeholder ?? null);
  }

  ranTool(): void {
    this.ranTools++;
  }

  /** The report, with every effect blue called that green did not (past green's last one). */
  report(): ShadowReport {
    const missing: ShadowDivergence[] = this.recorded.effects.slice(this.called.length).map((e, i) => ({
      kind: 'effect-missing',
      index: this.called.length + i,
      name: e.name,
      recorded: { name: e.name, args: e.args },
    }));
    return {
      effects: this.called.map((e) => ({ ...e })),
      divergences: [...this.divergences, ...missing],
      tools: { replayed: this.replayedTools, ran: this.ranTools },
    };
  }
}
