// A minimal SSE client on a raw socket: writes one HTTP/1.1 request, decodes the
// chunked response and splits it into events. No http.Agent, no keep-alive, no
// per-connection parser object beyond a few strings: 10,000 of these fit in one process.
import net from 'node:net'
import { withTimeout } from '../../bench-kit/http.mjs'

/**
 * Opens one stream. `onEvent({ id, event, data }, at)` runs for every event, with
 * `at` = the time its bytes arrived (from `now()`, read before any parsing).
 * Resolves with the stream once the response head is in and the status is 200;
 * rejects on any other status (with the body), an error or `timeoutMs`.
 */
export function openSse({
  host,
  port,
  localAddress,
  method = 'GET',
  path,
  headers = {},
  body,
  onEvent,
  onClose,
  now = () => performance.now(),
  timeoutMs = 10_000,
}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, ...(localAddress !== undefined && { localAddress }), noDelay: true })
    socket.setEncoding('latin1') // one char per byte: chunk sizes count bytes; everything sent is ASCII
    const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}:${port}`, 'Accept: text/event-stream']
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
    if (body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`)
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`, 'latin1')

    const stream = { socket, status: 0, close: () => socket.destroy() }
    let state = 'head' // head → size → data → size …; 'plain': a non-streaming (error) body of `size` bytes
    let buf = ''
    let size = 0
    let text = '' // decoded body not yet split into events
    let settled = false
    const timer = setTimeout(() => fail(new Error(`no response head within ${timeoutMs} ms`)), timeoutMs)
    timer.unref()
    function fail(error) {
      socket.destroy()
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(error)
    }

    socket.on('data', (chunk) => {
      const at = now()
      buf += chunk
      for (;;) {
        if (state === 'head') {
          const end = buf.indexOf('\r\n\r\n')
          if (end === -1) return
          const head = buf.slice(0, end)
          buf = buf.slice(end + 4)
          stream.status = Number(head.slice(9, 12))
          const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head)
          if (stream.status !== 200 || !chunked) {
            size = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0)
            state = 'plain'
            continue
          }
          settled = true
          clearTimeout(timer)
          resolve(stream)
          state = 'size'
        } else if (state === 'plain') {
          if (buf.length >= size) fail(new Error(`HTTP ${stream.status}: ${buf.slice(0, 500)}`))
          return
        } else if (state === 'size') {
          const end = buf.indexOf('\r\n')
          if (end === -1) return
          size = Number.parseInt(buf.slice(0, end), 16)
          buf = buf.slice(end + 2)
          if (size === 0) {
            socket.end()
            return
          }
          state = 'data'
        } else {
          if (buf.length < size + 2) return
          text += buf.slice(0, size)
          buf = buf.slice(size + 2)
          state = 'size'
          let end = text.indexOf('\n\n')
          while (end !== -1) {
            const block = text.slice(0, end)
            text = text.slice(end + 2)
            const event = parseEvent(block)
            if (event !== undefined) onEvent?.(event, at)
            end = text.indexOf('\n\n')
          }
        }
      }
    })
    socket.on('error', fail)
    socket.on('close', () => {
      if (!settled) fail(new Error(`connection closed before a response (status ${stream.status})`))
      onClose?.()
    })
  })
}

/** One SSE block → `{ id, event, data }`; comments (`: ping`) give undefined. */
function parseEvent(block) {
  let id
  let event = 'message'
  let data
  for (const line of block.split('\n')) {
    if (line.startsWith('data: ')) data = data === undefined ? line.slice(6) : `${data}\n${line.slice(6)}`
    else if (line.startsWith('id: ')) id = line.slice(4)
    else if (line.startsWith('event: ')) event = line.slice(7)
  }
  return data === undefined ? undefined : { id, event, data }
}

/**
 * Follows `path` with `key` and keeps its events by id, for timing changes: resolves once the `put` is in,
 * with its version (`putVersion`) and `arrival(id)`, which resolves with `{ at, event }` for the event with
 * that id as soon as it is in (or already was). Events without an id are passed over.
 */
export async function followById({ host, port, path = '/sdk/v1/stream', key, timeoutMs = 5_000 }) {
  const arrivals = new Map()
  const waiters = new Map()
  let putVersion
  let primed
  const ready = new Promise((resolve) => {
    primed = resolve
  })
  const stream = await openSse({
    host,
    port,
    path,
    headers: { authorization: `Bearer ${key}` },
    onEvent: (event, at) => {
      if (event.id === undefined) return
      if (event.event === 'put') {
        putVersion = Number(event.id)
        primed()
        return
      }
      const waiter = waiters.get(event.id)
      if (waiter === undefined) arrivals.set(event.id, { at, event })
      else {
        waiters.delete(event.id)
        waiter({ at, event })
      }
    },
  })
  await withTimeout(ready, 5_000, `put on port ${port}`)
  return {
    stream,
    putVersion,
    arrival(id) {
      const seen = arrivals.get(id)
      if (seen !== undefined) {
        arrivals.delete(id)
        return Promise.resolve(seen)
      }
      return withTimeout(new Promise((resolve) => waiters.set(id, resolve)), timeoutMs, `patch ${id} on port ${port}`)
    },
  }
}
