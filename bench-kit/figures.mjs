// Figures and their formatting, as every benchmark table prints them.

/** Count, min, p50, p90, p99, max and mean of the finite `values` (NaN percentiles when there are none). */
export function summary(values) {
  const sorted = Float64Array.from(values.filter((v) => Number.isFinite(v))).sort()
  const at = (q) =>
    sorted.length === 0
      ? Number.NaN
      : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
  return {
    count: sorted.length,
    min: sorted[0],
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1],
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
  }
}

export const pad = (s, n) => String(s).padEnd(n)
export const lpad = (s, n) => String(s).padStart(n)

/** `7.9 ms`, `136 ms`; `—` for a figure that is missing. */
export const fmtMs = (v) =>
  Number.isFinite(v) ? (Math.abs(v) >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`) : '—'

/** `26.8 ns`, `10.9 µs`, `113 µs`. */
export const fmtNs = (ns) =>
  ns >= 100_000 ? `${(ns / 1000).toFixed(0)} µs` : ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(1)} ns`
