/**
 * The Node fast path for streams: under @hono/node-server (through {@link nodeStreamFetch}) a stream writes its
 * head and events straight to Node's `ServerResponse`, without a Web `ReadableStream`, its reader promises or the
 * adapter's pump. Routes hand their connection over through `http/node-path.ts`.
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { SseConnection, SseSink } from '../../delivery/sse.js'
import { ALREADY_SENT, type NodeBindings } from '../../http/node-path.js'

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
