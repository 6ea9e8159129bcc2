/**
 * The paired rows of `npm run bench -- gates` (the shadow stage's design): for the simulated 10%
 * drop, the sessions needed at 80% power by the paired test (Wilcoxon signed-rank on per-session
 * paired differences: each session replayed on green and compared with blue's recorded outcome)
 * against the unpaired Mann-Whitney (green's own sessions against blue's, per arm), both one-sided
 * at the same level (α/2 = 0.025, the live gate's bad-side level), and the A/A false-alarm rate of
 * each at its n. Per-session scores (blue, green) are bivariate normal with blue's mean and the
 * per-session SD of the discrete model above, within-pair correlation ρ, clamped to [0, 1] (the
 * realized correlation after clamping is reported). Theory for comparison: n_paired / n_unpaired
 * ≈ 1 − ρ (the variance of a paired difference is 2σ²(1 − ρ)).
 */
import { atMost, round } from './lib';
import { mannWhitneyU, wilcoxonSignedRank } from '../packages/server/src/analysis/index';

type Rng = () => number;

const LEVEL = 0.025;

function normal(r: Rng): number {
  let u = 0;
  while (u === 0) u = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

const clamp = (x: number) => Math.min(1, Math.max(0, x));

function pairs(
  r: Rng,
  n: number,
  mu: number,
  greenMu: number,
  sd: number,
  rho: number,
): [number[], number[]] {
  const b: number[] = [];
  const g: number[] = [];
  const s = Math.sqrt(1 - rho * rho);
  for (let i = 0; i < n; i++) {
    const z1 = normal(r);
    const z2 = rho * z1 + s * normal(r);
    b.push(clamp(mu + sd * z1));
    g.push(clamp(greenMu + sd * z2));
  }
  return [b, g];
}

function correlation(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, v) => a + v, 0) / n;
  const my = y.reduce((a, v) => a + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Rejection rate of the paired (same sessions) or unpaired (independent arms of n) test at n. */
function rejectRate(
  rngOf: (seed: number) => Rng,
  seed: number,
  reps: number,
  n: number,
  mu: number,
  greenMu: number,
  sd: number,
  rho: number,
  paired: boolean,
): number {
  const r = rngOf(seed);
  let rej = 0;
  for (let i = 0; i < reps; i++) {
    if (paired) {
      const [b, g] = pairs(r, n, mu, greenMu, sd, rho);
      const d = g.map((v, k) => v - b[k]!);
      if (wilcoxonSignedRank(d, { alternative: 'less' }).pValue < LEVEL) rej++;
    } else {
      const [b] = pairs(r, n, mu, greenMu, sd, 0);
      const [, g] = pairs(r, n, mu, greenMu, sd, 0);
      if (mannWhitneyU(g, b, { alternative: 'less' }).pValue < LEVEL) rej++;
    }
  }
  return rej / reps;
}

/** Smallest n (multiple of 5) with rejection rate ≥ 0.8. */
function nFor80(rate: (n: number) => number): number {
  let lo = 5;
  let hi = 40;
  while (rate(hi) < 0.8) hi *= 2;
  while (hi - lo > 5) {
    const mid = Math.round((lo + hi) / 10) * 5;
    if (rate(mid) >= 0.8) hi = mid;
    else lo = mid;
  }
  return hi;
}

export function pairedRows(
  reps: number,
  mu: number,
  drop: number,
  sd: number,
  rngOf: (seed: number) => Rng,
): { figures: Record<string, number | string>; targets: ReturnType<typeof atMost>[] } {
  const figures: Record<string, number | string> = {};
  const targets: ReturnType<typeof atMost>[] = [];
  const greenMu = mu * drop;
  figures['(e) paired design: per-session score SD (from the model above)'] = round(sd);
  const cache = new Map<string, number>();
  const rate = (n: number, rho: number, paired: boolean, gm: number) => {
    const k = `${n}|${rho}|${paired}|${gm}`;
    if (!cache.has(k))
      cache.set(k, rejectRate(rngOf, 9000 + n + Math.round(rho * 100), reps, n, mu, gm, sd, rho, paired));
    return cache.get(k)!;
  };
  const nUnpaired = nFor80((n) => rate(n, 0, false, greenMu));
  figures['(e) unpaired Mann-Whitney: sessions/arm for 80% power (10% drop)'] = nUnpaired;
  figures['(e) unpaired Mann-Whitney: A/A false-alarm rate at that n'] = rate(nUnpaired, 0, false, mu);
  for (const rho of [0, 0.3, 0.6]) {
    const nPaired = nFor80((n) => rate(n, rho, true, greenMu));
    const [b, g] = pairs(rngOf(77), 20_000, mu, greenMu, sd, rho);
    const ratio = nPaired / nUnpaired;
    figures[`(e) ρ=${rho}: realized within-pair correlation`] = round(correlation(b, g));
    figures[`(e) ρ=${rho}: paired Wilcoxon sessions for 80% power`] = nPaired;
    figures[`(e) ρ=${rho}: paired A/A false-alarm rate at that n`] = rate(nPaired, rho, true, mu);
    figures[`(e) ρ=${rho}: paired / unpaired sessions (theory ≈ ${round(1 - rho, 2)})`] = round(ratio);
    if (rho === 0.6)
      targets.push(
        atMost('(e) paired / unpaired sessions at 80% power, within-pair correlation 0.6', ratio, 0.5),
      );
  }
  return { figures, targets };
}
