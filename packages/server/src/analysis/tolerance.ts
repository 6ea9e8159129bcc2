/**
 * Tolerance syntax of a gate: how much worse green may be than blue.
 *
 * - a number, or a numeric string (`-0.02`, `'0.5'`): absolute, in the metric's units;
 * - `'+20%'` / `'-5%'`: relative to blue's mean (`0.2 × |mean_blue|`);
 * - `'+2pp'`: percentage points, i.e. an absolute 0.02 on a proportion (0..1) scale.
 *
 * The sign names the bad direction: `+` means an increase is bad (lower is better),
 * `-` a decrease is bad (higher is better). An unsigned tolerance needs the gate's
 * `direction`. The magnitude is always non-negative.
 */
import { ValidationError, type GateSpec } from '@baton/core';

export type Direction = 'higher-is-better' | 'lower-is-better';

export interface Tolerance {
  kind: 'absolute' | 'relative' | 'pp';
  /** Magnitude: metric units (absolute), a fraction (relative: 0.2 for 20%), or points (pp: 2 for 2pp). */
  value: number;
  /** Implied by the sign; undefined for an unsigned tolerance. */
  direction: Direction | undefined;
}

const TOL_RE = /^([+-])?\s*((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*(%|pp)?$/i;

export function parseTolerance(tol: number | string): Tolerance {
  if (typeof tol === 'number') {
    if (!Number.isFinite(tol))
      throw new ValidationError(`tolerance must be finite, got ${tol}`, { tolerance: tol });
    return {
      kind: 'absolute',
      value: Math.abs(tol),
      direction: tol > 0 ? 'lower-is-better' : tol < 0 || Object.is(tol, -0) ? 'higher-is-better' : undefined,
    };
  }
  if (typeof tol !== 'string') {
    throw new ValidationError('tolerance must be a number or a string like "+20%", "-0.02" or "+2pp"', {
      tolerance: tol as unknown,
    });
  }
  const m = TOL_RE.exec(tol.trim());
  if (!m) {
    throw new ValidationError(
      `invalid tolerance '${tol}': expected a number, a relative '+20%' / '-5%', or percentage points '+2pp'`,
      { tolerance: tol },
    );
  }
  const [, sign, num, unit] = m;
  const value = Number(num);
  if (!Number.isFinite(value)) throw new ValidationError(`invalid tolerance '${tol}'`, { tolerance: tol });
  const u = unit?.toLowerCase();
  const kind = u === '%' ? 'relative' : u === 'pp' ? 'pp' : 'absolute';
  if (kind === 'pp' && value > 100) {
    throw new ValidationError(`invalid tolerance '${tol}': percentage points must be at most 100`, {
      tolerance: tol,
    });
  }
  return {
    kind,
    value: kind === 'relative' ? value / 100 : value,
    direction: sign === '+' ? 'lower-is-better' : sign === '-' ? 'higher-is-better' : undefined,
  };
}

/** The gate's direction: explicit, or from the tolerance's sign; VALIDATION when neither or they disagree. */
export function resolveDirection(
  spec: Pick<GateSpec, 'tolerance' | 'direction' | 'metric'>,
  tol: Tolerance,
): Direction {
  if (
    spec.direction !== undefined &&
    spec.direction !== 'higher-is-better' &&
    spec.direction !== 'lower-is-better'
  ) {
    throw new ValidationError(`invalid direction '${String(spec.direction)}'`, { direction: spec.direction });
  }
  if (spec.direction && tol.direction && spec.direction !== tol.direction) {
    throw new ValidationError(
      `gate '${spec.metric}': tolerance ${String(spec.tolerance)} says ${tol.direction} but direction is ${spec.direction}`,
      { metric: spec.metric, tolerance: spec.tolerance, direction: spec.direction },
    );
  }
  const d = spec.direction ?? tol.direction;
  if (!d) {
    throw new ValidationError(
      `gate '${spec.metric}': unsigned tolerance ${String(spec.tolerance)} needs a direction (or a sign: '+' = increase is bad, '-' = decrease is bad)`,
      { metric: spec.metric, tolerance: spec.tolerance },
    );
  }
  return d;
}

/** +1 when an increase is bad (lower is better), −1 when a decrease is bad. */
export function badSign(d: Direction): 1 | -1 {
  return d === 'lower-is-better' ? 1 : -1;
}

/** The tolerated worsening in the metric's units (≥ 0); `reference` is blue's mean for relative tolerances. */
export function marginOf(tol: Tolerance, reference: number): number {
  switch (tol.kind) {
    case 'absolute':
      return tol.value;
    case 'relative':
      return tol.value * Math.abs(reference);
    case 'pp':
      return tol.value / 100;
  }
}
