#!/usr/bin/env node
import { configFromEnv, type ServerConfig } from './config.js'
import { startRelay } from './relay/relay.js'
import { startServer } from './runtime.js'

const USAGE = 'Usage: vane serve [--upstream URL --sdk-key KEY]'
const command = process.argv[2] ?? 'serve'
if (command !== 'serve') {
  process.stderr.write(`vane: unknown command "${command}". ${USAGE}\n`)
  process.exit(2)
}

let config: ServerConfig
try {
  config = configFromEnv()
} catch (error) {
  // every bad variable at once, before anything opens: a typo must not start a server that silently ignores it
  process.stderr.write(`vane: ${error instanceof Error ? error.message : error}\n`)
  process.exit(1)
}
// relay mode: `--upstream URL --sdk-key KEY` (or `--upstream=URL`), over VANE_UPSTREAM and VANE_SDK_KEY
const args = process.argv.slice(3)
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = (args[i] as string).split(/=(.*)/s, 2) as [string, string | undefined]
  const value = inline ?? args[++i]
  if ((flag !== '--upstream' && flag !== '--sdk-key') || value === undefined) {
    process.stderr.write(
      `vane serve: unknown or incomplete option "${args[i - (inline === undefined ? 1 : 0)]}". ${USAGE}\n`,
    )
    process.exit(2)
  }
  if (flag === '--upstream') config.upstream = value
  else config.sdkKey = value
}

let running: Awaited<ReturnType<typeof startServer>> | Awaited<ReturnType<typeof startRelay>>
try {
  running = config.upstream !== undefined ? await startRelay(config) : await startServer(config)
} catch (error) {
  process.stderr.write(`vane: ${error instanceof Error ? error.message : error}\n`)
  process.exit(1)
}
let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
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
