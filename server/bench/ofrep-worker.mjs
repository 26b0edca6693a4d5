// Load generator for the OFREP figures, in a process of its own (forked by run.mjs):
// autocannon on POST /ofrep/v1/evaluate/flags, a different user in every body.
// Message from run.mjs: { url, key, connections, seconds, seed } → { type: 'result', … }; then it exits.
import '../../engine/bench/guard.mjs'
import autocannon from 'autocannon'
import { contextGenerator } from './workload.mjs'

process.once('message', async ({ url, key, connections, seconds, seed, prefix }) => {
  const next = contextGenerator(prefix, seed)
  // autocannon's own histogram has 1 ms resolution; keep every response time too
  const times = []
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const instance = autocannon(
    {
      url,
      connections,
      duration: seconds,
      timeout: 10,
      requests: [
        {
          method: 'POST',
          path: '/ofrep/v1/evaluate/flags',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: JSON.stringify({ context: next() }) }),
        },
      ],
    },
    (error, result) => {
      const cpu = process.cpuUsage(cpuBefore)
      const wall = performance.now() - started
      if (error) {
        process.send({ type: 'error', error: String(error?.stack ?? error) })
      } else {
        process.send({
          type: 'result',
          times,
          wallMs: wall,
          clientCpuShare: (cpu.user + cpu.system) / 1000 / wall,
          result: {
            requests: result.requests,
            latency: result.latency,
            throughput: result.throughput,
            errors: result.errors,
            timeouts: result.timeouts,
            non2xx: result.non2xx,
            statusCodeStats: result.statusCodeStats,
            duration: result.duration,
            '2xx': result['2xx'],
          },
        })
      }
      setTimeout(() => process.exit(0), 50)
    },
  )
  instance.on('response', (_client, status, _bytes, responseTime) => {
    if (status >= 200 && status < 300) times.push(responseTime)
  })
})
process.on('disconnect', () => process.exit(0))
process.send({ type: 'ready' })
