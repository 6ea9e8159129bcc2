/** Terminal rendering of a drain forecast (`baton rollout plan`, `status`, the demo). */
import type { DrainForecast, ForecastView, Quantiles } from '@baton/server';
import { fmtDuration } from './output';
import { bold, dim, yellow } from './view';

function dur(q: Quantiles): string {
  if (q.unbounded?.p50) return yellow(q.unbounded.message);
  const p50 = q.p50 === null ? '?' : fmtDuration(q.p50);
  const p90 = q.unbounded?.p90 ? yellow('unbounded') : q.p90 === null ? '?' : fmtDuration(q.p90);
  return `${p50} ${dim(`(p90 ${p90})`)}`;
}

function count(q: Quantiles): string {
  if (q.p50 === null) return '?';
  return q.p90 !== null && q.p90 !== q.p50 ? `${q.p50} ${dim(`(p90 ${q.p90})`)}` : String(q.p50);
}

/** The forecast as a few lines. */
export function renderForecast(f: DrainForecast, title = 'drain forecast'): string[] {
  const out: string[] = [];
  out.push(
    bold(title) +
      `  ${f.confidence === 'low' ? yellow('low confidence') : 'confidence normal'}  ${dim(`${f.runs} simulated runs, seed ${f.seed}`)}`,
  );
  if (f.start === 'before')
    out.push(`  steps phase  ${dur(f.steps)}   ${dim('rollout start to drain-started')}`);
  out.push(`  drain        ${dur(f.drain)}   ${dim('drain-started to drain-complete')}`);
  if (f.remaining) out.push(`  remaining    ${dur(f.remaining)}`);
  const s = f.sessions;
  out.push(
    `  sessions     ${f.openOnBlue} open on blue${f.start === 'before' ? ` + ${count(s.newOnBlue)} new before the drain` : ''}: ` +
      `${count(s.finishOnBlue)} finish on blue, ${count(s.migrateLazily)} migrate lazily, ${count(s.migrateEagerly)} eagerly`,
  );
  const why = Object.entries(s.stragglersWhy)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  out.push(`  stragglers   ${count(s.stragglers)} on blue at the drain deadline${why ? ` (${why})` : ''}`);
  const i = f.inputs;
  out.push(
    dim(
      `  from ${i.afterTurnObservations} observed turns, ${i.waitObservations} waits, ` +
        `${i.arrivalsPerMinute ?? '?'} new sessions/min, eager ${i.eagerPerSecond ?? '?'}/s (${i.eagerRateSource})`,
    ),
  );
  for (const n of f.notes) out.push(dim(`  note: ${n}`));
  return out;
}

/** Forecast next to the actual progress, for the rollout status. */
export function renderForecastView(v: ForecastView | undefined): string[] {
  if (!v) return [];
  const out: string[] = [];
  const a = v.actual;
  if (v.initial) {
    const f = v.initial;
    const actualSteps = a.stepsMs !== null ? fmtDuration(a.stepsMs) : 'not yet';
    const actualDrain =
      a.drainMs === null
        ? 'not started'
        : `${fmtDuration(a.drainMs)}${a.drainComplete ? ' (complete)' : ' so far'}`;
    out.push(bold('forecast') + `  steps ${dur(f.steps)} | actual ${actualSteps}`);
    out.push(
      `          drain ${dur(f.drain)} | actual ${actualDrain}` +
        (a.remaining !== null && !a.drainComplete
          ? `, ${a.remaining} of ${a.total ?? '?'} left on blue`
          : ''),
    );
  }
  if (v.reforecast)
    out.push(
      `re-forecast from what is left: drain ${dur(v.reforecast.drain)}, ${dur(v.reforecast.remaining ?? v.reforecast.drain)} to go`,
    );
  return out;
}
