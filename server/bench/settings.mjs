// The delivery benchmark's settings: the knobs (environment variables) and the fixed figures of the run.
const env = process.env

export const SDK_STREAMS = Number(env.BENCH_SDK_STREAMS ?? 10_000)
export const CLIENT_STREAMS = Number(env.BENCH_CLIENT_STREAMS ?? 2_000)
export const OFREP_SECONDS = Number(env.BENCH_OFREP_SECONDS ?? 10)
export const OFREP_LEVELS = [1, 10, 50]
export const PHASES = new Set((env.BENCH_PHASES ?? 'propagation,sdk,client,bare,ofrep').split(','))
export const CPU_PROF = env.BENCH_CPU_PROF === '1'
/** Changes timed by the propagation phase (after the warm-up ones). */
export const CHANGES = Number(env.BENCH_CHANGES ?? 200)
export const WARMUP_CHANGES = 10
/** Load generator processes for the fan-out. */
export const WORKERS = 2
/** Streams each load generator opens at once (keeps the server's accept queue, 511 deep, from overflowing). */
export const OPEN_CONCURRENCY = 64
/** The whole run, server start to JSON; past it everything is killed and the run fails. */
export const DEADLINE_MS = 175_000
export const FD_LIMIT = 65_536
/** The flags of the stream phases (archived before the OFREP phase, so that exactly its 500 remain). */
export const STREAM_FLAGS = ['prop', 'fanout-sdk', 'fanout-client']
/** "A few KB per connection" read as at most 5 KB. */
export const TARGETS = {
  propagationP99Ms: 50,
  fanoutP99Ms: 250,
  rssPerStreamBytes: 5 * 1024,
  ofrepRps50: 2_000,
  ofrepP99Ms50: 50,
}
