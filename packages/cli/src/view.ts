/**
 * Rendering a rollout's status for people: the live view of `rollout watch` (and of the demo)
 * and the one-line summaries printed when stdout is not a terminal.
 */
import type { Decision, GateResult } from '@baton/core';
import type { RolloutStatus } from './client';
import { bar, fmtDuration } from './output';

const useColor = (): boolean => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = (code: string, s: string): string => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = (s: string): string => paint('1', s);
export const dim = (s: string): string => paint('2', s);
export const red = (s: string): string => paint('31', s);
export const green = (s: string): string => paint('32', s);
export const yellow = (s: string): string => paint('33', s);
export const cyan = (s: string): string => paint('36', s);

export function phaseColor(phase: string): string {
  if (phase === 'promoted') return green(phase);
  if (phase === 'aborted' || phase === 'failed') return red(phase);
  if (phase === 'paused') return yellow(phase);
  return cyan(phase);
}

export function verdictColor(v: string): string {
  if (v === 'pass') return green(v);
  if (v === 'fail') return red(v);
  return yellow(v);
}

const STATUS_ORDER = ['idle', 'running', 'waiting', 'migrating', 'completed', 'failed', 'quarantined'];

function num(v: unknown, digits = 3): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '-';
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && a < 0.001) return v.toExponential(2);
  return v.toFixed(digits);
}

/** Share of new sessions per version, in %. The server reports `{fill, migrate}`; older shapes map version → %. */
export function weightsOf(s: RolloutStatus): Record<string, number> {
  const route = s.route as { stable?: string; candidate?: string | null; weight?: number } | null | undefined;
  if (route && typeof route.stable === 'string' && typeof route.weight === 'number') {
    if (!route.candidate || route.candidate === route.stable) return { [route.stable]: 100 };
    return { [route.stable]: 100 - route.weight, [route.candidate]: route.weight };
  }
  const w = s.weights as Record<string, number> | undefined;
  if (!w) return {};
  if (typeof w.fill === 'number') {
    if (s.from === s.to) return { [s.to]: 100 };
    return { [s.from]: 100 - w.fill, [s.to]: w.fill };
  }
  return w;
}

function migratePercent(s: RolloutStatus): number | undefined {
  const w = s.weights as Record<string, number> | undefined;
  return typeof w?.migrate === 'number' ? w.migrate : undefined;
}

function stepsOf(s: RolloutStatus): number | undefined {
  if (typeof s.steps === 'number') return s.steps;
  const spec = s.spec as { steps?: unknown[] } | undefined;
  return Array.isArray(spec?.steps) ? spec.steps.length : undefined;
}

export function gateLine(g: GateResult): string {
  const e = g.evidence ?? ({} as GateResult['evidence']);
  const parts = [
    `${(g.name ?? e.metric ?? '?').padEnd(24)} ${verdictColor(g.verdict).padEnd(useColor() ? 21 : 12)}`,
    `${e.test ?? ''}`,
    `n=${num(e.nBlue)}/${num(e.nGreen)}`,
  ];
  if (e.pValue !== undefined) parts.push(`p=${num(e.pValue, 4)}`);
  if (e.effect !== undefined) parts.push(`effect=${num(e.effect)}`);
  if (e.threshold !== undefined) parts.push(`limit=${num(e.threshold)}`);
  if (g.critical) parts.push('critical');
  if (e.reason) parts.push(dim(String(e.reason)));
  return parts.join('  ');
}

export function decisionLine(d: Decision, origin?: number): string {
  const t =
    origin !== undefined ? `+${fmtDuration(d.at - origin)}` : new Date(d.at).toISOString().slice(11, 19);
  return `${dim(t.padStart(8))}  ${d.kind.padEnd(14)} ${d.message}`;
}

/** Drain progress of the blue version: (moved or finished) / total. */
export function drainFraction(s: RolloutStatus): number | undefined {
  const d = s.drain;
  if (!d) return undefined;
  if (typeof d.progress === 'number') return d.progress;
  if (typeof d.total === 'number' && typeof d.remaining === 'number' && d.total > 0)
    return 1 - d.remaining / d.total;
  return undefined;
}

/** The full live view as lines. */
export function renderRollout(
  s: RolloutStatus,
  opts: { title?: string; decisions?: number; now?: number } = {},
): string[] {
  const out: string[] = [];
  const steps = stepsOf(s);
  out.push(
    bold(opts.title ?? `rollout ${s.id}`) +
      `  ${s.agent} ${s.from} -> ${s.to}  phase ${phaseColor(s.phase)}  step ${Math.max(0, s.step + 1)}${steps !== undefined ? `/${steps}` : ''}${typeof s.stage === 'string' ? ` (${s.stage})` : ''}`,
  );
  const w = weightsOf(s);
  if (Object.keys(w).length > 0) {
    out.push(
      'new       ' +
        Object.entries(w)
          .map(([v, p]) => `${v} ${bar(p / 100, 20)} ${num(p, 1)}%`)
          .join('   '),
    );
  }
  const mig = migratePercent(s);
  const m = s.migrations as { done?: number; failed?: number } | undefined;
  if (mig !== undefined || m) {
    const parts: string[] = [];
    if (mig !== undefined) parts.push(`${num(mig, 1)}% of ${s.from} sessions move at their boundary`);
    if (m) parts.push(`migrated ${m.done ?? 0}${m.failed ? `, ${red(`failed ${m.failed}`)}` : ''}`);
    out.push('in-flight ' + parts.join('; '));
  }
  const paused = s.paused as { reason?: string | null } | null | undefined;
  if (s.phase === 'paused' && paused) out.push(yellow(`paused: ${paused.reason ?? ''}`));
  const abort = s.abort as { reason?: string; reverse?: boolean } | null | undefined;
  if (abort)
    out.push(red(`aborted: ${abort.reason ?? ''}${abort.reverse ? ' (green sessions move back)' : ''}`));
  const sessions = s.sessions ?? {};
  const versions = Object.keys(sessions);
  if (versions.length > 0) {
    const OPEN = ['idle', 'running', 'waiting', 'migrating'];
    const openOf = (v: string): number =>
      OPEN.reduce((a, st) => a + ((sessions[v] ?? {})[st as keyof (typeof sessions)[string]] ?? 0), 0);
    const allOpen = versions.reduce((a, v) => a + openOf(v), 0);
    out.push(
      'sessions  ' +
        dim(
          [
            'version'.padEnd(10),
            ...STATUS_ORDER.map((x) => x.padStart(9)),
            'total'.padStart(7),
            '  open sessions',
          ].join(' '),
        ),
    );
    for (const v of versions) {
      const row = sessions[v] ?? {};
      const total = Object.values(row).reduce<number>((a, b) => a + (b ?? 0), 0);
      const open = openOf(v);
      out.push(
        '          ' +
          [
            v.padEnd(10),
            ...STATUS_ORDER.map((x) => String(row[x as keyof typeof row] ?? 0).padStart(9)),
            String(total).padStart(7),
            ` ${bar(allOpen > 0 ? open / allOpen : 0, 16)} ${open}`,
          ].join(' '),
      );
    }
  }
  const frac = drainFraction(s);
  if (frac !== undefined && s.drain) {
    const d = s.drain;
    const detail: string[] = [];
    if (typeof d.remaining === 'number') detail.push(`${d.remaining} open on ${s.from}`);
    for (const k of ['idle', 'running', 'waiting'] as const)
      if (typeof d[k] === 'number') detail.push(`${k} ${d[k]}`);
    if (typeof d.deadline === 'number' && opts.now)
      detail.push(`deadline in ${fmtDuration(d.deadline - opts.now)}`);
    out.push(`drain     ${bar(frac, 30)} ${(frac * 100).toFixed(0)}%  ${dim(detail.join(', '))}`);
  }
  out.push(...shadowLines(s.shadow));
  const gates = s.gates ?? [];
  if (gates.length > 0) {
    out.push('gates');
    for (const g of gates) out.push('  ' + gateLine(g));
  }
  const decisions = s.decisions ?? [];
  if (decisions.length > 0) {
    out.push('decisions');
    for (const d of decisions.slice(-(opts.decisions ?? 6))) out.push('  ' + decisionLine(d, s.createdAt));
  }
  return out;
}

interface ShadowView {
  beforeStep: number;
  finishedAt: number | null;
  verdict: string | null;
  sessions: number;
  turns: number;
  failed: number;
  divergent: number;
  skipped: number;
  results: GateResult[];
}

/** The shadow stage's current or last run: progress, then its paired gates. */
export function shadowLines(v: unknown): string[] {
  const sh = v as ShadowView | null | undefined;
  if (!sh || typeof sh !== 'object') return [];
  const head =
    sh.finishedAt === null
      ? yellow(`replaying recorded turns before step ${sh.beforeStep + 1} …`)
      : `${verdictColor(sh.verdict ?? 'nodata')} before step ${sh.beforeStep + 1}: ${sh.turns} turn(s) of ${sh.sessions} session(s), ${sh.divergent ? red(`${sh.divergent} diverging`) : '0 diverging'}, ${sh.failed} failed, ${sh.skipped} skipped`;
  return ['shadow    ' + head, ...(sh.results ?? []).map((g) => '  ' + gateLine(g))];
}

/** One line for logs when stdout is not a terminal. */
export function summaryLine(s: RolloutStatus): string {
  const w = Object.entries(weightsOf(s))
    .map(([v, p]) => `${v}=${num(p, 1)}%`)
    .concat(migratePercent(s) !== undefined ? [`migrate=${num(migratePercent(s), 1)}%`] : [])
    .join(' ');
  const sess = Object.entries(s.sessions ?? {})
    .map(([v, row]) => `${v}:${Object.values(row ?? {}).reduce<number>((a, b) => a + (b ?? 0), 0)}`)
    .join(' ');
  const frac = drainFraction(s);
  return [
    `rollout ${s.id}`,
    `phase=${s.phase}`,
    `step=${s.step}`,
    w && `weights[${w}]`,
    sess && `sessions[${sess}]`,
    frac !== undefined ? `drain=${(frac * 100).toFixed(0)}%` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** Redraws a block of lines in place on a TTY. */
export class LiveBlock {
  private lines = 0;
  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {}
  draw(lines: string[]): void {
    const cols = this.stream.columns ?? 120;
    const clipped = lines.map((l) => clip(l, cols));
    let s = '';
    if (this.lines > 0) s += `\x1b[${this.lines}F`;
    s += '\x1b[J' + clipped.join('\n') + '\n';
    this.stream.write(s);
    this.lines = clipped.length;
  }
  /** Forget the block so the next draw starts below it. */
  release(): void {
    this.lines = 0;
  }
}

/** Clip a line to `cols` visible characters (ANSI escapes do not count). */
function clip(line: string, cols: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      // eslint-disable-next-line no-control-regex
      const m = /^\x1b\[[0-9;]*[A-Za-z]/.exec(line.slice(i));
      if (m) {
        out += m[0];
        i += m[0].length - 1;
        continue;
      }
    }
    if (visible >= cols - 1) break;
    out += line[i];
    visible++;
  }
  return out + (useColor() ? '\x1b[0m' : '');
}
