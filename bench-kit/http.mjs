// HTTP helpers shared by the benchmarks that run `vane serve` (delivery, scale-out, Node SDK): loopback only.
import http from 'node:http'
import net from 'node:net'

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** A port nothing listens on right now, found by binding port 0 and letting it go. */
export function freePort(host) {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, host, () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

/** One JSON request with a bearer key; resolves with status, headers and the body text. */
export function request({ host, port, agent }, method, path, { body, key, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = http.request(
      {
        host,
        port,
        method,
        path,
        agent,
        timeout: timeoutMs,
        headers: {
          authorization: `Bearer ${key}`,
          ...(payload !== undefined && {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
          }),
        },
      },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          resolve({ status: res.statusCode, headers: res.headers, text, bytes: Buffer.byteLength(text) })
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)))
    req.on('error', reject)
    req.end(payload)
  })
}

/**
 * The environment a benchmarked `vane serve` runs with: this process's, without anything that would point it
 * at another database, upstream or profiler, plus the bench settings (quiet logs, production mode, an admin
 * rate limit the set-up never meets) and `extra`.
 */
export function benchServerEnv(base, extra) {
  const env = { ...base }
  for (const name of [
    'DATABASE_URL',
    'VANE_PG_SCHEMA',
    'VANE_DATA_DIR',
    'VANE_STREAM_SECRET',
    'VANE_UPSTREAM',
    'VANE_SDK_KEY',
    'NODE_OPTIONS',
  ])
    delete env[name]
  return {
    ...env,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    VANE_RATE_LIMIT: '100000',
    VANE_EVALUATION_RATE_LIMIT: '100000',
    ...extra,
  }
}

/**
 * Keeps the last `keep` lines a server process prints in `log`, and resolves once
 * `probe()` answers 200 (its /readyz); rejects with the log's tail when the process
 * exits or `timeoutMs` passes first.
 */
export async function awaitServer(child, { name = 'server', log, keep = 200, probe, timeoutMs = 20_000 }) {
  const collect = (chunk) => {
    log.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    if (log.length > keep) log.splice(0, log.length - keep)
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const exited = new Promise((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}):\n${log.slice(-20).join('\n')}`))),
  )
  exited.catch(() => {})
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ready = await Promise.race([probe().catch(() => undefined), exited])
    if (ready?.status === 200) return
    if (Date.now() > deadline)
      throw new Error(`${name} not ready within ${timeoutMs / 1000} s:\n${log.slice(-20).join('\n')}`)
    await sleep(100)
  }
}
