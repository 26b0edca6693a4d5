// The Node SDK benchmark's settings: the knobs (environment variables) and the fixed figures of the run.
const env = process.env

/** tinybench's time per timed task, in ms. */
export const TIME = Number(env.BENCH_TIME_MS ?? 300)
/** Rounds of the getter timings (the best is kept). */
export const ROUNDS = Math.max(1, Number(env.BENCH_ROUNDS ?? 3))
export const PHASES = new Set((env.BENCH_PHASES ?? 'memory,getters,openfeature,telemetry,propagation').split(','))
export const OVERHEAD_TARGET = 0.2
/** Awaited OpenFeature evaluations per timed sample (each is microseconds, not nanoseconds). */
export const OF_BATCH = 100
/** Requests (root span + evaluation + children) per timed sample in the span phase. */
export const SPAN_REQUESTS = 50
export const CHILD_SPANS = 10
/** Changes timed by the propagation phase (after the warm-up ones). */
export const CHANGES = Number(env.BENCH_CHANGES ?? 200)
export const WARMUP_CHANGES = 10
/** The whole run, server start to JSON; past it the server is killed and the run fails. */
export const DEADLINE_MS = 175_000
/** The environment the getters' clients read, and the one the propagation phase writes to. */
export const BENCH_ENV = 'bench'
export const PROP_ENV = 'propagation'
