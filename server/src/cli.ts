#!/usr/bin/env node
import { configFromEnv, startServer } from './runtime.js'

const command = process.argv[2] ?? 'serve'
if (command !== 'serve') {
  process.stderr.write(`vane: unknown command "${command}". Usage: vane serve\n`)
  process.exit(2)
}

const running = await startServer(configFromEnv())
let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return
    stopping = true
    running.logger.info({ signal }, 'shutting down: finishing requests in flight')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}
