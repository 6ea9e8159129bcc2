/**
 * `npm run bench -- gates [--quick]`: seeded simulation of the statistical judge.
 *
 * Per-session eval scores (the unit of analysis is the session):
 * - a session has T turns, T = 1 + Poisson(2) capped at 8;
 * - each session has a latent quality p ~ Beta(κμ, κ(1−μ)) with κ = 4 (sessions differ a lot,
 *   turns of one session are correlated);
 * - each turn is scored on a 5-point scale {0, .25, .5, .75, 1}: Binomial(4, p)/4;
 * - the session's `eval.resolution` is the mean of its turn scores (as the store aggregates
 *   it: sum/count), so values are bounded in [0, 1] with many ties (a third of the sessions
 *   have one turn, hence one of 5 values).
 * Blue: μ = 0.75. "10% drop": green μ = 0.675.
 *
 * Gate: `{metric: 'eval.resolution', test: 'mann-whitney', tolerance: '-2%', alpha: 0.05}`
 * evaluated through `evaluateGate` on SessionAggregates; a `fail` verdict aborts the rollout.
 *
 * Scenarios (each ≥ 1,000 seeded rollouts):
 * (a) A/A at the step's fixed horizon (300 sessions per arm): false-abort rate.
 * (b) a 10% drop at the same horizon: detection rate.
 * (c) sequential vs fixed horizon. n_fix = the smallest per-arm horizon (grid of 10) at which
 *     the fixed-horizon Mann-Whitney gate detects the 10% drop ≥ 80% of the time (by simulation);
 *     its realized A/A false-alarm rate at n_fix is measured too (3,000 rollouts).
 *     - SPRT (`SequentialJudge` mode `sprt`, the judge behind `test: sprt`): Wald's test of "no
 *       worse" against "worse by the margin", with the margin = the 10% drop n_fix is sized for
 *       (tolerance −10%); fail error α/2 = 0.025 (the fixed gate's one-sided level), power 0.8;
 *       looked at after every session per arm until a decision or its truncation (2·n_fix at the
 *       plug-in variance). Run at nominal settings, and at settings matched to the fixed test's
 *       realized operating characteristics (see MATCHED_ALPHA). A/A (sessions to a pass), the
 *       10% drop and a 20% drop; also looked at every 10 sessions only.
 *     - mSPRT (mode `msprt`, `test: msprt`; same α, tolerance −2%) looks after every 10 sessions
 *       per arm, up to 3·n_fix, for contrast; at α 0.05 and at α 0.10 (c').
 *     - Wald's lower bound on E[N] at the alternative for any sequential test with the same α, β
 *       on normal data, against the z-test's n at the simulated variances.
 * (d) peeking: the fixed-horizon gate evaluated after every 10 sessions per arm (as a
 *     controller polling it would) — the false-abort inflation the sequential judge avoids.
 * (e) the shadow stage's paired design (gates-paired.ts): sessions needed at 80% power for the
 *     10% drop, paired Wilcoxon vs unpaired Mann-Whitney at the same level, within-pair
 *     correlations 0, 0.3 and 0.6.
 */
import { atLeast, atMost, percentile, round, type BenchFn } from './lib';
import { pairedRows } from './gates-paired';
import type { SessionAggregate } from '../packages/core/src/index';
import {
  evaluateGate,
  SequentialJudge,
  type SequentialDecision,
  mannWhitneyU,
  mean,
  marginOf,
  parseTolerance,
  phiInv,
  variance,
  waldEfficiencyBound,
} from '../packages/server/src/analysis/index';

type Rng = () => number;

function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r: Rng): number {
  let u = 0;
  while (u === 0) u = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Marsaglia-Tsang gamma sampler. */
function gamma(r: Rng, k: number): number {
  if (k < 1) return gamma(r, k + 1) * Math.pow(r(), 1 / k);
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(r);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = r();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

function beta(r: Rng, a: number, b: number): number {
  const x = gamma(r, a);
  return x / (x + gamma(r, b));
}

function poisson(r: Rng, lambda: number): number {
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= r();
  } while (p > l);
  return k - 1;
}

const KAPPA = 4;
const BLUE_MU = 0.75;

/** One session's eval score (mean of its turns' 5-point scores). */
function sessionScore(r: Rng, mu: number): { sum: number; count: number } {
  const turns = Math.min(8, 1 + poisson(r, 2));
  const p = beta(r, KAPPA * mu, KAPPA * (1 - mu));
  let sum = 0;
  for (let t = 0; t < turns; t++) {
    let k = 0;
    for (let i = 0; i < 4; i++) if (r() < p) k++;
    sum += k / 4;
  }
  return { sum, count: turns };
}

let sid = 0;
function aggregates(r: Rng, n: number, mu: number, version: string): SessionAggregate[] {
  return Array.from({ length: n }, () => {
    const m = sessionScore(r, mu);
    return {
      sessionId: `s${++sid}`,
      agent: 'support',
      version,
      sessionStartedAt: 0,
      firstAt: 0,
      lastAt: 0,
      turns: m.count,
      errors: 0,
      toolCalls: 0,
      toolMix: {},
      reasoningSteps: 0,
      tokensIn: 0,
      tokensOut: 0,
      latencyMsSum: 0,
      latencyMsMax: 0,
      contextUtilizationMax: 0,
      metrics: { 'eval.resolution': m },
      signals: {},
      completed: true,
    };
  });
}

const ALPHA = 0.05;
const TOLERANCE = '-2%';
const GATE = {
  metric: 'eval.resolution',
  test: 'mann-whitney' as const,
  tolerance: TOLERANCE,
  alpha: ALPHA,
  critical: true,
};
const DROP = 0.9; // green μ = 0.9 · blue μ
/** Sessions per arm at which the step's gate is evaluated in (a) and (b). */
const STEP_SESSIONS = 300;

/** Fraction of `reps` fixed-horizon rollouts (n sessions per arm) that the gate aborts. */
function fixedAbortRate(
  seed: number,
  reps: number,
  n: number,
  greenMu: number,
): { fail: number; pass: number } {
  const r = mulberry32(seed);
  let fail = 0;
  let pass = 0;
  for (let i = 0; i < reps; i++) {
    const res = evaluateGate({
      spec: GATE,
      blue: aggregates(r, n, BLUE_MU, 'v1'),
      green: aggregates(r, n, greenMu, 'v2'),
    });
    if (res.verdict === 'fail') fail++;
    if (res.verdict === 'pass') pass++;
  }
  return { fail: fail / reps, pass: pass / reps };
}

/** Same rule as the gate (one-sided MW at α and mean effect beyond the margin), on raw values, for many looks. */
function fixedRuleFails(blue: number[], green: number[]): boolean {
  const mb = mean(blue);
  const margin = marginOf(parseTolerance(TOLERANCE), mb);
  const d = mean(green) - mb;
  if (!(-d > margin)) return false;
  return mannWhitneyU(green, blue, { alternative: 'less' }).pValue < ALPHA / 2;
}

interface SeqOutcome {
  decision: SequentialDecision;
  n: number;
}

/** The regression n_fix is sized for, as a tolerance: the SPRT's alternative (H1). */
const SPRT_TOLERANCE = '-10%';
/** The SPRT's nominal power at its alternative (β = 0.2, as n_fix's 80%). */
const SPRT_POWER = 0.8;
/**
 * The SPRT run at the fixed test's operating characteristics: nominal α and power chosen in a
 * pilot on other seeds (3,000 A/A and 2,000 10%-drop runs; α 0.04, power 0.78 realized 0.022
 * false alarms and 0.81 detection) so that its realized A/A false-alarm rate is at most the
 * fixed test's realized rate at n_fix and its realized detection of the 10% drop at least 80%.
 * Both are re-measured below on the benchmark's own seeds and checked as targets: then n_fix
 * (sized at the fixed test's nominal α, realizing at least as many false alarms) is the
 * stricter yardstick — a fixed test held to the SPRT's lower rate would need more sessions.
 */
const MATCHED_ALPHA = 0.04;
const MATCHED_POWER = 0.78;

function sequentialRun(
  r: Rng,
  greenMu: number,
  maxN: number,
  every: number,
  alpha = ALPHA,
  mode: 'msprt' | 'sprt' = 'msprt',
  power = SPRT_POWER,
): SeqOutcome {
  const judge = new SequentialJudge({
    kind: 'mean',
    badSign: -1,
    margin: (blueMean) => marginOf(parseTolerance(mode === 'sprt' ? SPRT_TOLERANCE : TOLERANCE), blueMean),
    alpha,
    minSamples: 20,
    mode,
    power,
  });
  for (let n = 1; n <= maxN; n++) {
    const b = sessionScore(r, BLUE_MU);
    const g = sessionScore(r, greenMu);
    judge.observe('blue', b.sum / b.count);
    judge.observe('green', g.sum / g.count);
    if (n % every === 0 && judge.look().decision !== 'continue') return { decision: judge.decision, n };
  }
  return { decision: 'continue', n: maxN };
}

function summarizeSeq(outs: SeqOutcome[]): {
  fail: number;
  pass: number;
  undecided: number;
  meanN: number;
  medianN: number;
  p90N: number;
} {
  const ns = outs.map((o) => o.n).sort((a, b) => a - b);
  return {
    fail: outs.filter((o) => o.decision === 'fail').length / outs.length,
    pass: outs.filter((o) => o.decision === 'pass').length / outs.length,
    undecided:
      outs.filter((o) => o.decision === 'continue' || o.decision === 'truncated').length / outs.length,
    meanN: mean(ns),
    medianN: percentile(ns, 50),
    p90N: percentile(ns, 90),
  };
}

const bench: BenchFn = async (args) => {
  const quick = args.includes('--quick');
  const R = quick ? 300 : 1000; // rollouts per scenario
  const started = Date.now();
  const figures: Record<string, number | string> = {};

  // n_fix: smallest per-arm horizon (multiple of 10) with ≥ 80% detection of the 10% drop.
  const greenMu = BLUE_MU * DROP;
  const powerAt = new Map<number, number>();
  const power = (n: number) => {
    if (!powerAt.has(n)) powerAt.set(n, fixedAbortRate(7000 + n, R, n, greenMu).fail);
    return powerAt.get(n)!;
  };
  let lo = 10;
  let hi = 640;
  while (power(hi) < 0.8) hi *= 2;
  while (hi - lo > 10) {
    const mid = Math.round((lo + hi) / 20) * 10;
    if (power(mid) >= 0.8) hi = mid;
    else lo = mid;
  }
  const nFix = hi;

  // Fixed horizon of the rollout step for (a) and (b): the step's `verify.minSessions`.
  const nStep = STEP_SESSIONS;

  const aa = fixedAbortRate(1, R, nStep, BLUE_MU);
  const drop = fixedAbortRate(2, R, nStep, greenMu);
  // The fixed test's realized false-alarm rate at n_fix, the rate the sequential judges are matched to.
  const aaFix = fixedAbortRate(3, 3 * R, nFix, BLUE_MU);

  // (c) sequential judge, looking every 10 sessions per arm up to 3·n_fix.
  const every = 10;
  const maxN = 3 * nFix;
  const seqRun = (seed: number, mu: number, alpha = ALPHA) => {
    const r = mulberry32(seed);
    return summarizeSeq(Array.from({ length: R }, () => sequentialRun(r, mu, maxN, every, alpha)));
  };
  // (c) the SPRT (Wald; H1 = the 10% drop n_fix is sized for), looking after every session per
  // arm (continuous monitoring) until a decision or its truncation (2·n_fix at the plug-in variance).
  const sprtRun = (seed: number, mu: number, reps: number, alpha: number, power: number, ev = 1) => {
    const r = mulberry32(seed);
    return summarizeSeq(
      Array.from({ length: reps }, () => sequentialRun(r, mu, maxN, ev, alpha, 'sprt', power)),
    );
  };
  const sAA = sprtRun(31, BLUE_MU, 3 * R, ALPHA, SPRT_POWER);
  const s10 = sprtRun(32, greenMu, R, ALPHA, SPRT_POWER);
  const s20 = sprtRun(33, BLUE_MU * 0.8, R, ALPHA, SPRT_POWER);
  const mAA = sprtRun(34, BLUE_MU, 3 * R, MATCHED_ALPHA, MATCHED_POWER);
  const m10 = sprtRun(35, greenMu, R, MATCHED_ALPHA, MATCHED_POWER);
  const m20 = sprtRun(36, BLUE_MU * 0.8, R, MATCHED_ALPHA, MATCHED_POWER);
  // The same nominal SPRT looked at only every 10 sessions per arm (the overshoot's price).
  const b10AA = sprtRun(37, BLUE_MU, R, ALPHA, SPRT_POWER, every);
  const b10 = sprtRun(38, greenMu, R, ALPHA, SPRT_POWER, every);

  // What any sequential test could reach: Wald's bound on E[N | H1] against the z-test's n for
  // the same α, β on normal data; the z-test's n here from the simulated per-session variances.
  const varOf = (seed: number, mu: number) => {
    const r = mulberry32(seed);
    const xs = Array.from({ length: 20000 }, () => {
      const m = sessionScore(r, mu);
      return m.sum / m.count;
    });
    return variance(xs);
  };
  const zSum = phiInv(1 - ALPHA / 2) + phiInv(1 - (1 - SPRT_POWER));
  const delta = BLUE_MU - greenMu;
  const nZ = (zSum * zSum * (varOf(41, BLUE_MU) + varOf(42, greenMu))) / (delta * delta);
  const bound = waldEfficiencyBound(ALPHA / 2, 1 - SPRT_POWER);

  const seqAA = seqRun(11, BLUE_MU);
  const seq10 = seqRun(12, greenMu);
  const seq20 = seqRun(13, BLUE_MU * 0.8);
  // The always-valid bound is loose: at α = 0.05 the judge's realized false-alarm rate is
  // below the fixed test's. At α = 0.10 the two realized rates are about equal ("at the same
  // false-alarm rate", measured, not assumed).
  const CAL_ALPHA = 0.1;
  const calAA = seqRun(14, BLUE_MU, CAL_ALPHA);
  const cal10 = seqRun(15, greenMu, CAL_ALPHA);
  const cal20 = seqRun(16, BLUE_MU * 0.8, CAL_ALPHA);

  // (d) peeking at the fixed-horizon gate every 10 sessions per arm up to n_step, in A/A.
  const peekR = mulberry32(21);
  let peekAborts = 0;
  for (let i = 0; i < R; i++) {
    const blue: number[] = [];
    const green: number[] = [];
    for (let n = 1; n <= nStep; n++) {
      const b = sessionScore(peekR, BLUE_MU);
      const g = sessionScore(peekR, BLUE_MU);
      blue.push(b.sum / b.count);
      green.push(g.sum / g.count);
      if (n % every === 0 && n >= 20 && fixedRuleFails(blue, green)) {
        peekAborts++;
        break;
      }
    }
  }

  figures['rollouts per scenario'] = R;
  figures['per-session score: blue mean (μ)'] = BLUE_MU;
  figures['gate'] = `mann-whitney, tolerance ${TOLERANCE}, alpha ${ALPHA}`;
  figures['step horizon for (a), (b) (sessions/arm)'] = nStep;
  figures['(a) A/A false-abort rate'] = aa.fail;
  figures['(a) A/A pass rate'] = aa.pass;
  figures['(b) 10% drop detection rate'] = drop.fail;
  figures['(c) n_fix: fixed-horizon MW sessions/arm for 80% power (10% drop)'] = nFix;
  figures['(c) fixed-horizon power at n_fix'] = power(nFix);
  figures['(c) fixed-horizon A/A false-alarm rate at n_fix'] = aaFix.fail;
  // mSPRT (normal mixture over all effects, always-valid p-values), for contrast.
  figures['(c) mSPRT A/A false-alarm rate (looks every 10, up to 3·n_fix)'] = seqAA.fail;
  figures['(c) mSPRT A/A: passed early'] = seqAA.pass;
  figures['(c) mSPRT A/A: mean sessions/arm at decision'] = seqAA.meanN;
  figures['(c) mSPRT 10% drop: detection rate'] = seq10.fail;
  figures['(c) mSPRT 10% drop: mean sessions/arm at decision'] = seq10.meanN;
  figures['(c) mSPRT 10% drop: median sessions/arm at decision'] = seq10.medianN;
  figures['(c) mSPRT 10% drop: mean / n_fix'] = seq10.meanN / nFix;
  figures['(c) mSPRT 20% drop: detection rate'] = seq20.fail;
  figures['(c) mSPRT 20% drop: mean sessions/arm at decision'] = seq20.meanN;
  figures['(c) mSPRT 20% drop: median sessions/arm at decision'] = seq20.medianN;
  figures['(c) mSPRT 20% drop: p90 sessions/arm at decision'] = seq20.p90N;
  figures['(c) mSPRT 20% drop: mean / n_fix'] = seq20.meanN / nFix;
  figures[`(c') mSPRT at alpha ${CAL_ALPHA}: A/A false-alarm rate`] = calAA.fail;
  figures[`(c') mSPRT at alpha ${CAL_ALPHA}: 10% drop detection; mean sessions/arm`] =
    `${round(cal10.fail)}; ${round(cal10.meanN, 1)} (${round(cal10.meanN / nFix, 2)} x n_fix)`;
  figures[`(c') mSPRT at alpha ${CAL_ALPHA}: 20% drop detection; mean sessions/arm`] =
    `${round(cal20.fail)}; ${round(cal20.meanN, 1)} (${round(cal20.meanN / nFix, 2)} x n_fix)`;
  // SPRT (Wald, H1 = the 10% drop), looks after every session per arm.
  const seqLine = (o: ReturnType<typeof summarizeSeq>, what: 'fail' | 'pass') =>
    `${round(o[what])}; ${round(o.meanN, 1)} / ${o.medianN} / ${o.p90N} (${round(o.meanN / nFix, 2)} x n_fix)`;
  const sprtFigures = (label: string, aa: typeof sAA, d10: typeof s10, d20?: typeof s20) => {
    figures[`(c) ${label} A/A false-alarm rate`] = aa.fail;
    figures[`(c) ${label} A/A: pass rate; mean / median / p90 sessions/arm at decision`] = seqLine(
      aa,
      'pass',
    );
    figures[`(c) ${label} 10% drop: detection; mean / median / p90 sessions/arm`] = seqLine(d10, 'fail');
    if (d20)
      figures[`(c) ${label} 20% drop: detection; mean / median / p90 sessions/arm`] = seqLine(d20, 'fail');
  };
  sprtFigures(`SPRT nominal (alpha ${ALPHA}, power ${SPRT_POWER})`, sAA, s10, s20);
  sprtFigures(`SPRT matched (alpha ${MATCHED_ALPHA}, power ${MATCHED_POWER})`, mAA, m10, m20);
  sprtFigures(`SPRT nominal, looks every ${every}`, b10AA, b10);
  figures['(c) z-test n for 80% power on the 10% drop (simulated variances)'] = round(nZ, 1);
  figures["(c) Wald's bound on E[N | 10% drop], any sequential test, normal theory: x z-test n; x n_fix"] =
    `${round(bound)}; ${round((bound * nZ) / nFix)}`;
  figures['(d) A/A false-abort rate when the fixed gate is polled every 10 sessions'] = peekAborts / R;
  // (e) the shadow stage's paired design against the unpaired live comparison
  const sdRng = mulberry32(4242);
  const scores = Array.from({ length: 20_000 }, () => {
    const m = sessionScore(sdRng, BLUE_MU);
    return m.sum / m.count;
  });
  const paired = pairedRows(R, BLUE_MU, DROP, Math.sqrt(variance(scores)), mulberry32);
  Object.assign(figures, paired.figures);
  figures['runtime s'] = round((Date.now() - started) / 1000, 1);

  const targets = [
    ...paired.targets,
    atMost('(a) A/A false-abort rate', aa.fail, 0.05),
    atLeast('(b) 10% drop detected', drop.fail, 0.95),
    atMost(
      '(c) SPRT (matched) mean sessions at decision / n_fix, at the effect n_fix is sized for (10% drop)',
      m10.meanN / nFix,
      0.6,
    ),
    atMost(
      '(c) SPRT (matched) mean sessions at decision / n_fix, clear regression (20% drop)',
      m20.meanN / nFix,
      0.6,
    ),
    atMost(
      '(c) premise: SPRT (matched) A/A false-alarm rate <= the fixed test realized rate at n_fix',
      mAA.fail,
      round(aaFix.fail),
    ),
    atLeast('(c) premise: SPRT (matched) detection of the 10% drop', m10.fail, 0.8),
    atMost('(c) SPRT (nominal) false-alarm rate, continuous monitoring', sAA.fail, 0.05),
  ];
  return { figures, targets };
};

export default bench;
