#!/usr/bin/env node
import { serveNode } from './adapters/node.js'
import { createApp } from './app.js'

const command = process.argv[2] ?? 'serve'
if (command !== 'serve') {
  process.stderr.write(`vane: unknown command "${command}". Usage: vane serve\n`)
  process.exit(2)
}

const port = Number(process.env.PORT ?? 8787)
const hostname = process.env.HOST ?? '127.0.0.1'
const { server, port: bound } = await serveNode(createApp(), { port, hostname })
process.stdout.write(`${JSON.stringify({ msg: 'vane listening', url: `http://${hostname}:${bound}` })}\n`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)))
}
