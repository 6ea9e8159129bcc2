/** Standard normal distribution helpers (CDF from @stdlib, quantile by Acklam's rational approximation). */
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';

/** Φ(x) for the standard normal. */
export function phi(x: number): number {
  return normalCdf(x, 0, 1);
}

/** Upper tail 1 − Φ(x), computed as Φ(−x) to keep precision in the far tail. */
export function phiUpper(x: number): number {
  return normalCdf(-x, 0, 1);
}

const A = [
  -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
  2.506628277459239,
];
const B = [
  -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1,
];
const C = [
  -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

/**
 * Φ⁻¹(p). Acklam's approximation (relative error < 1.2e-9) refined by one Halley step
 * against the @stdlib CDF, which brings it to double precision for practical p.
 */
export function phiInv(p: number): number {
  if (!(p >= 0 && p <= 1) || Number.isNaN(p)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const a = (i: number) => A[i]!;
  const b = (i: number) => B[i]!;
  const c = (i: number) => C[i]!;
  const d = (i: number) => D[i]!;
  const pLow = 0.02425;
  let x: number;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    x =
      (((((c(0) * q + c(1)) * q + c(2)) * q + c(3)) * q + c(4)) * q + c(5)) /
      ((((d(0) * q + d(1)) * q + d(2)) * q + d(3)) * q + 1);
  } else if (p <= 1 - pLow) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a(0) * r + a(1)) * r + a(2)) * r + a(3)) * r + a(4)) * r + a(5)) * q) /
      (((((b(0) * r + b(1)) * r + b(2)) * r + b(3)) * r + b(4)) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x =
      -(((((c(0) * q + c(1)) * q + c(2)) * q + c(3)) * q + c(4)) * q + c(5)) /
      ((((d(0) * q + d(1)) * q + d(2)) * q + d(3)) * q + 1);
  }
  // One Halley refinement step.
  const e = phi(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}
