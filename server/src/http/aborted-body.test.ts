/**
 * A client that goes away in the middle of its request body: the server served by `serveNode` on loopback, a raw
 * socket that sends half of a body and closes. Nobody reads the answer, but logs and metrics do: it must be a
 * `client_closed` 499, not a 503 "database unreachable" or a 500 that pages an operator.
 */
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { serveNode } from '../adapters/node/serve.js'
import type { RequestRecord } from '../middleware/telemetry.js'
import { ADMIN_SECRET, createHarness, type Harness } from '../testing/harness.js'

let h: Harness | undefined
let close: (() => Promise<void>) | undefined
afterEach(async () => {
  await close?.()
  await h?.close()
  h = undefined
  close = undefined
})

/** Sends the head and half of a declared body, then closes the socket. */
function sendHalfAndClose(port: number, method: string, path: string, key: string): Promise<void> {
  const body = JSON.stringify({ context: { targetingKey: 'u-1', plan: 'x'.repeat(2000) } })
  const half = body.slice(0, body.length / 2)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.write(
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${half}`,
        // give the server time to start reading the body before the socket goes
        () => setTimeout(() => socket.destroy(), 50),
      )
    })
    socket.on('error', reject)
    socket.on('close', () => resolve())
  })
}

async function serve(): Promise<{ port: number; records: RequestRecord[]; errors: unknown[] }> {
  const records: RequestRecord[] = []
  const errors: unknown[] = []
  h = await createHarness({
    environments: ['production'],
    onRequest: (record) => records.push(record),
    onUnexpectedError: (error) => errors.push(error),
  })
  records.length = 0 // the harness's own set-up requests
  const { server, port } = await serveNode(h.app, { port: 0, hostname: '127.0.0.1' })
  close = () => new Promise((resolve) => server.close(() => resolve()))
  return { port, records, errors }
}

async function recordOf(records: RequestRecord[], route: string): Promise<RequestRecord> {
  const deadline = Date.now() + 5000
  for (;;) {
    const record = records.find((r) => r.route === route)
    if (record !== undefined) return record
    if (Date.now() > deadline) throw new Error(`no request record for ${route}: ${JSON.stringify(records)}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('a request body the client aborts', () => {
  it.each([
    ['OFREP single evaluation', 'POST', '/ofrep/v1/evaluate/flags/f', '/ofrep/v1/evaluate/flags/:key', 'server'],
    ['OFREP bulk evaluation', 'POST', '/ofrep/v1/evaluate/flags', '/ofrep/v1/evaluate/flags', 'server'],
    ['a client stream', 'POST', '/client/v1/stream', '/client/v1/stream', 'client'],
    ['an admin write', 'POST', '/admin/v1/environments', '/admin/v1/environments', 'admin'],
  ] as const)('%s is counted as 499 client_closed, not as a server error', async (_, method, path, route, kind) => {
    const { port, records, errors } = await serve()
    const key = kind === 'admin' ? ADMIN_SECRET : await (h as Harness).key(kind, 'production')
    await sendHalfAndClose(port, method, path, key)
    const record = await recordOf(records, route)
    expect(record.status).toBe(499)
    expect(errors).toEqual([])
  })
})
