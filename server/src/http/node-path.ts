/**
 * The app's side of the Node fast path (the adapter's side is `adapters/node/sse-node.ts`): under
 * @hono/node-server, through the adapter's `nodeStreamFetch`, a stream route hands its connection over in
 * `c.env` and the adapter writes it straight to Node's `ServerResponse`; evaluation bodies are read straight from
 * the `IncomingMessage` ({@link readNodeBody}), which the stream path relies on (a Request whose body hono read
 * would stay alive with the stream). Only types come from Node: this module loads on any runtime, where
 * {@link sseResponse} answers with the Web-standard body instead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Context, MiddlewareHandler } from 'hono'
import { SSE_HEADERS, type SseConnection } from '../delivery/sse.js'
import { clientClosed } from './request.js'

/** The header by which a handler tells @hono/node-server that it wrote the response itself (its `X_ALREADY_SENT`). */
export const ALREADY_SENT = 'x-hono-already-sent'

/** `c.env` under @hono/node-server, with the slot the adapter's `nodeStreamFetch` adds. */
export interface NodeBindings {
  incoming: IncomingMessage
  outgoing: ServerResponse
  /** `null`: streams may take the Node path; a connection: the stream to start once the response is final. */
  sse?: SseConnection | null | undefined
}

function nodeBindings(c: Context): NodeBindings | undefined {
  const env = c.env as Partial<NodeBindings> | undefined
  return env?.sse === null && env.incoming !== undefined && env.outgoing !== undefined
    ? (env as NodeBindings)
    : undefined
}

/** Whether this request may take the Node path (it came through the Node adapter). */
export function isNodeRequest(c: Context): boolean {
  return nodeBindings(c) !== undefined
}

/**
 * The client's address under Node (the socket's peer), for per-address caps; undefined on other runtimes. An IPv6
 * client counts by its /64: one host usually holds a whole /64, and would otherwise have 2^64 addresses to spread over.
 */
export function clientAddress(c: Context): string | undefined {
  const address = (c.env as Partial<NodeBindings> | undefined)?.incoming?.socket?.remoteAddress
  return address === undefined ? undefined : addressGroup(address)
}

/** An IPv4 address as it is (IPv4-mapped IPv6 too); an IPv6 address as its /64 prefix, e.g. `2001:db8:0:1::/64`. */
export function addressGroup(address: string): string {
  if (!address.includes(':') || address.includes('.')) return address.replace(/^::ffff:/i, '')
  const [head = '', tail] = address.split('%')[0]!.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`
}

/**
 * Marks a socket that has carried an authenticated request: the Node adapter closes the oldest connections that
 * have not, when too many are open (`adapters/node/serve.ts`), and spares these. A property on the socket, not a
 * callback, so the hot path pays one write.
 */
export const AUTHENTICATED = Symbol.for('vane.authenticated')

/** Tells the Node adapter that this request's connection is authenticated (a no-op elsewhere). */
export function markAuthenticated(c: Context): void {
  const socket = (c.env as Partial<NodeBindings> | undefined)?.incoming?.socket as
    | (IncomingMessage['socket'] & { [AUTHENTICATED]?: true })
    | undefined
  if (socket !== undefined) socket[AUTHENTICATED] = true
}

/** {@link markAuthenticated} as middleware, placed after the key checks. */
export const authenticatedConnection: MiddlewareHandler = (c, next) => {
  markAuthenticated(c)
  return next()
}

/**
 * The response for a stream. On the Node path it is only a marker: middleware still adds its headers to it (CORS
 * does so after the handler), and the Node adapter writes the head and attaches the connection to Node's
 * response once the app has returned it.
 */
export function sseResponse(c: Context, connection: SseConnection): Response {
  // routes answer HEAD before opening (headOnly); should one not, nothing would ever read this stream
  if (c.req.method === 'HEAD') {
    connection.close('client')
    return new Response(null, { headers: SSE_HEADERS })
  }
  const node = nodeBindings(c)
  if (node === undefined) return new Response(connection.body, { headers: SSE_HEADERS })
  node.sse = connection
  return new Response(null, { headers: { ...SSE_HEADERS, [ALREADY_SENT]: 'true' } })
}

/**
 * A stream route's answer to HEAD, which hono sends to the GET handler (and drops the body of): the headers
 * alone, checked before anything subscribes or primes a stream nobody would read.
 */
export function headOnly(c: Context): Response | undefined {
  return c.req.method === 'HEAD' ? new Response(null, { headers: SSE_HEADERS }) : undefined
}

/** One decoder for every body: a decode call keeps no state between calls. */
const utf8 = new TextDecoder()

/**
 * A request body read straight from the `IncomingMessage`, as UTF-8 text: asking hono for it builds a full fetch
 * `Request` over a web stream of the socket, which a stream's response would then keep alive. Undefined when it is
 * longer than `maxBytes`.
 */
export function readNodeBody(c: Context, maxBytes: number): Promise<string | undefined> {
  const incoming = (nodeBindings(c) as NodeBindings).incoming
  const declared = incoming.headers['transfer-encoding'] === undefined ? incoming.headers['content-length'] : undefined
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.resolve(undefined)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (result?: string, error?: Error) => {
      incoming.removeListener('data', onData)
      incoming.removeListener('end', onEnd)
      incoming.removeListener('error', onError)
      incoming.removeListener('close', onEnd)
      if (error !== undefined) reject(error)
      else resolve(result)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength
      // what is left is drained by the adapter once the answer is sent
      if (size > maxBytes) done(undefined)
      else chunks.push(chunk)
    }
    // the request's socket failing or closing mid-body is the client leaving: a 499, never a 5xx
    const onEnd = () => {
      if (!incoming.complete) done(undefined, clientClosed())
      else done(utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)))
    }
    const onError = () => done(undefined, clientClosed())
    incoming.on('data', onData)
    incoming.on('end', onEnd)
    incoming.on('error', onError)
    incoming.on('close', onEnd)
  })
}
