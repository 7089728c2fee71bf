// bench/lib/stats.ts — summaries over repeated runs.
export interface Summary { median: number; min: number; max: number; n: number }

export function summarize(xs: number[]): Summary | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

export function fmt(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits);
}

export function fmtSummary(s: Summary | null, digits = 1, unit = ""): string {
  if (!s) return "n/a";
  return `${s.median.toFixed(digits)}${unit} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/** Smallest value in [lo, hi] (step-aligned) for which ok() holds, assuming
 *  ok is monotone; null if even hi fails. */
export async function smallest(lo: number, hi: number, step: number, ok: (v: number) => Promise<boolean>): Promise<number | null> {
  if (!(await ok(hi))) return null;
  let bad = lo - step;   // assumed failing
  let good = hi;
  while (good - bad > step) {
    const mid = bad + Math.round((good - bad) / 2 / step) * step;
    if (await ok(mid)) good = mid; else bad = mid;
  }
  return good;
}
