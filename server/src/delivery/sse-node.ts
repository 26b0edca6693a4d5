/**
 * The Node fast path for streams: under @hono/node-server (through {@link nodeStreamFetch}) a stream writes its
 * head and events straight to Node's `ServerResponse`, without a Web `ReadableStream`, its reader promises or the
 * adapter's pump; and evaluation bodies are read straight from the `IncomingMessage` ({@link readNodeBody}), which
 * the stream path relies on (a Request whose body hono read would stay alive with the stream). Only types come
 * from Node: this module loads on any runtime, where {@link sseResponse} answers with the Web-standard body instead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Context } from 'hono'
import { SSE_HEADERS, type SseConnection, type SseSink } from './sse.js'

/** The header by which a handler tells @hono/node-server that it wrote the response itself (its `X_ALREADY_SENT`). */
const ALREADY_SENT = 'x-hono-already-sent'

/** `c.env` under @hono/node-server, with the slot {@link nodeStreamFetch} adds. */
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

/** Whether this request may take the Node path (it came through {@link nodeStreamFetch}). */
export function isNodeRequest(c: Context): boolean {
  return nodeBindings(c) !== undefined
}

/**
 * The response for a stream. On the Node path it is only a marker: middleware still adds its headers to it (CORS
 * does so after the handler), and {@link nodeStreamFetch} writes the head and attaches the connection to Node's
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

/** A Web-standard fetch handler taking @hono/node-server's bindings, such as a hono app's. */
export type NodeFetch<E> = (request: Request, env: E) => Response | Promise<Response>

/** Wraps an app's fetch for @hono/node-server so that its streams over HTTP/1 take the Node path. */
export function nodeStreamFetch<E extends object>(fetch: NodeFetch<E>): NodeFetch<E> {
  const started = (env: NodeBindings, response: Response, listeners: AdapterListeners) => {
    const connection = env.sse
    env.sse = undefined
    if (connection != null) startNodeStream(connection, env.outgoing, response, listeners)
    return response
  }
  return (request, env) => {
    const node = env as Partial<NodeBindings>
    if (node.incoming?.httpVersionMajor !== 1) return fetch(request, env)
    node.sse = null
    const listeners = adapterListeners(node as NodeBindings)
    const response = fetch(request, env)
    return response instanceof Promise
      ? response.then((r) => started(node as NodeBindings, r, listeners))
      : started(node as NodeBindings, response, listeners)
  }
}

type Listener = (...args: unknown[]) => void

/**
 * The listeners @hono/node-server added for this request just before calling the app: on the response, 'close'
 * (abort the Request's signal, drain an unread body) and, for a request with a body, 'finish' (drain it); on the
 * request, 'end'. They share a scope with the adapter's lightweight Request (URL, Headers) and keep it alive for as
 * long as a stream stays open, though nothing reads the signal once the handler has returned and a complete
 * request has no body left. Only the anonymous ones are taken: Node's own (`bound resOnFinish`) are named. This
 * reads the adapter's internals, so its version is pinned exactly (server/package.json); the weak-reference tests
 * in sse-node.test.ts fail if a new version keeps its Request some other way.
 */
interface AdapterListeners {
  close: Listener | undefined
  finish: Listener | undefined
  end: Listener | undefined
}

function adapterListeners({ incoming, outgoing }: NodeBindings): AdapterListeners {
  const lastAnonymous = (listeners: Listener[]) => {
    const fn = listeners[listeners.length - 1]
    return fn !== undefined && fn.name === '' ? fn : undefined
  }
  const body = incoming.method !== 'GET' && incoming.method !== 'HEAD'
  return {
    close: lastAnonymous(outgoing.listeners('close') as Listener[]),
    finish: body ? lastAnonymous(outgoing.listeners('finish') as Listener[]) : undefined,
    end: body ? lastAnonymous(incoming.listeners('end') as Listener[]) : undefined,
  }
}

/** Per Node response, its connection, for the 'close' listener (one shared function, not a closure per stream). */
const kConnection = Symbol('vane.sse')
type StreamResponse = ServerResponse & { [kConnection]?: SseConnection | undefined }

function onClose(this: StreamResponse): void {
  const connection = this[kConnection]
  this[kConnection] = undefined
  connection?.gone()
}

const CRLF = Buffer.from('\r\n')
const chunkFrames = new WeakMap<Uint8Array, Buffer>()
/** An event as one HTTP/1.1 chunk, framed once for every connection that sends it. */
function chunkFrame(chunk: Uint8Array): Buffer {
  let frame = chunkFrames.get(chunk)
  if (frame === undefined) {
    frame = Buffer.concat([Buffer.from(`${chunk.byteLength.toString(16)}\r\n`, 'latin1'), chunk, CRLF])
    chunkFrames.set(chunk, frame)
  }
  return frame
}

/**
 * Writes events to the response's socket, each as one chunk framed once per event: `res.write` would cork the
 * socket, schedule an uncork and write four pieces per connection, a third of a fan-out's time. The head and
 * the end still go through the `ServerResponse`, which frames nothing else meanwhile.
 */
class NodeSink implements SseSink {
  private onDrain: (() => void) | undefined

  constructor(
    private readonly res: StreamResponse,
    private readonly socket: Socket,
    private readonly connection: SseConnection,
  ) {}

  write(chunk: Uint8Array): boolean {
    // HTTP/1.0 has no chunked encoding: the body is the bytes until the connection closes
    if (this.socket.write(this.res.chunkedEncoding ? chunkFrame(chunk) : chunk)) return true
    this.onDrain ??= () => this.connection.resume()
    this.socket.once('drain', this.onDrain)
    return false
  }

  buffered(): number {
    return this.socket.writableLength
  }

  end(slow: boolean): void {
    const res = this.res
    res[kConnection] = undefined
    if (this.onDrain !== undefined) this.socket.removeListener('drain', this.onDrain)
    // a consumer that stopped reading would hold its socket and what is buffered for it forever
    if (slow) res.destroy()
    else res.end()
  }
}

function startNodeStream(
  connection: SseConnection,
  res: StreamResponse,
  response: Response,
  listeners: AdapterListeners,
): void {
  // the app replaced the stream's answer (an error after the handler): that answer goes out instead
  if (!response.headers.has(ALREADY_SENT) || res.headersSent) {
    connection.close('client')
    return
  }
  const socket = res.socket
  if (res.destroyed || socket?.destroyed) {
    connection.gone()
    return
  }
  // a pipelined request waits for the responses ahead of it on its connection
  if (socket === null) {
    // a client that leaves while it waits never gets the socket, and Node closes no response that never had one:
    // its stream ends with the connection
    const connectionSocket = res.req.socket
    const left = () => connection.gone()
    connectionSocket.once('close', left)
    res.once('socket', () => {
      connectionSocket.removeListener('close', left)
      startNodeStream(connection, res, response, listeners)
    })
    return
  }
  const headers: Record<string, string> = {}
  for (const [name, value] of response.headers) if (name !== ALREADY_SENT) headers[name] = value
  res[kConnection] = connection
  // see AdapterListeners: a complete request (streams read their body from the IncomingMessage) needs none of them
  if (res.req.complete) {
    if (listeners.close !== undefined) res.removeListener('close', listeners.close)
    if (listeners.finish !== undefined) res.removeListener('finish', listeners.finish)
    if (listeners.end !== undefined) res.req.removeListener('end', listeners.end)
  }
  res.on('close', onClose)
  // the head and what priming queued leave in one write
  socket.cork()
  res.writeHead(response.status, headers)
  res.flushHeaders()
  connection.attach(new NodeSink(res, socket, connection), true)
  socket.uncork()
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
    const onEnd = () => {
      if (!incoming.complete) done(undefined, new Error('the client went away before sending the whole body'))
      else done(utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)))
    }
    const onError = (error: Error) => done(undefined, error)
    incoming.on('data', onData)
    incoming.on('end', onEnd)
    incoming.on('error', onError)
    incoming.on('close', onEnd)
  })
}
