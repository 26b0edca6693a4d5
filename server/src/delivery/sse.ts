const encoder = new TextEncoder()
/** Node's Buffer where there is one: Node's sockets take it as is, a plain Uint8Array is wrapped on every write. */
const NodeBuffer = (
  globalThis as { Buffer?: { from(buffer: ArrayBuffer, offset: number, length: number): Uint8Array } }
).Buffer

/** One SSE event, encoded once and shared by every connection that sends it. */
export function encodeEvent(event: string, data: string, id?: number | string): Uint8Array {
  // data never contains a raw newline: it is JSON, whose strings escape them
  const head = id === undefined ? `event: ${event}\n` : `id: ${id}\nevent: ${event}\n`
  return bytes(`${head}data: ${data}\n\n`)
}

function bytes(text: string): Uint8Array {
  const encoded = encoder.encode(text)
  return NodeBuffer === undefined ? encoded : NodeBuffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength)
}

export const HEARTBEAT = bytes(': ping\n\n')

/** Headers that keep proxies from buffering or caching a stream. */
export const SSE_HEADERS: Record<string, string> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-store, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
}

export type CloseReason = 'client' | 'slow' | 'revoked' | 'shutdown' | 'replaced'

/**
 * Where a connection's bytes go: a Web `ReadableStream` ({@link SseConnection.body}) or, on Node, the
 * `ServerResponse` itself (sse-node.ts). The sink calls `resume()` when the consumer wants more after a
 * `write` returned false, and `gone()` when the consumer went away.
 */
export interface SseSink {
  /** Hands one chunk over; false when the consumer wants nothing more until the sink calls `resume()`. */
  write(chunk: Uint8Array): boolean
  /** Bytes handed over that the consumer has not taken yet. */
  buffered(): number
  /** Ends the response; `slow`: the consumer stopped reading, so what it has not taken is thrown away. */
  end(slow: boolean): void
}

/**
 * One SSE response. Writes never block: events queue up to a byte bound, and a
 * consumer that falls further behind is dropped (it reconnects and resumes).
 * Urgent events (kills) jump the queue. The sink reports a consumer that goes
 * away, however abruptly, so subscriptions never outlive it.
 */
export class SseConnection {
  private sink: SseSink | undefined
  /** Chunks not yet handed to the sink: `urgent` id-less copies first, then events in order. Made on first use. */
  private queue: Uint8Array[] | undefined
  private urgent = 0
  private queuedBytes = 0
  /** The sink takes a write now. */
  private ready = false
  private closed = false
  /** Whether anything was waiting at the last heartbeat, and whether the consumer took anything since. */
  private backlogAtHeartbeat = false
  private tookSinceHeartbeat = true

  /**
   * @param maxQueuedBytes bytes waiting for this connection beyond which it is dropped as too slow
   * @param onClose called once when the connection ends, whatever the cause
   */
  constructor(
    private readonly maxQueuedBytes: number,
    private readonly onClose: (reason: CloseReason) => void,
  ) {}

  get isClosed(): boolean {
    return this.closed
  }

  /** The response body for Web-standard runtimes; events sent before it is read wait in the queue. */
  get body(): ReadableStream<Uint8Array> {
    let controller!: ReadableStreamDefaultController<Uint8Array>
    const body = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          controller = c
        },
        pull: () => this.resume(),
        cancel: () => this.gone(),
      },
      { highWaterMark: 0 },
    )
    this.attach({
      // one chunk per pull: the rest stays in our queue, where the bound and urgent copies apply
      write: (chunk) => {
        controller.enqueue(chunk)
        return false
      },
      buffered: () => 0,
      end: () => {
        try {
          controller.close()
        } catch {
          // already cancelled by the client
        }
      },
    })
    return body
  }

  /** Hands the connection its sink; `ready`: the sink takes writes at once. */
  attach(sink: SseSink, ready = false): void {
    if (this.sink !== undefined) throw new Error('this connection already has a sink')
    this.sink = sink
    if (this.closed) sink.end(false)
    else if (ready) this.resume()
  }

  /** The consumer wants more. */
  resume(): void {
    this.ready = true
    this.tookSinceHeartbeat = true
    this.flush()
  }

  /** The consumer went away (socket closed, body cancelled). */
  gone(): void {
    this.close('client')
  }

  /**
   * Sends an event. With `aheadCopy` (the same event without an `id`), a
   * consumer that has a backlog gets the copy ahead of it — a kill must not
   * wait behind other changes — and the original later, in order, so that
   * `Last-Event-ID` still resumes correctly.
   */
  send(chunk: Uint8Array, aheadCopy?: Uint8Array): void {
    if (this.closed) return
    if (this.ready && this.queue === undefined) {
      // nothing waiting: straight to the sink (a copy is only for a backlog)
      this.tookSinceHeartbeat = true
      this.ready = (this.sink as SseSink).write(chunk)
      return
    }
    const queued = this.queue === undefined ? 0 : this.queue.length - this.urgent
    if (aheadCopy !== undefined && queued > 0) this.enqueue(aheadCopy, true)
    this.enqueue(chunk, false)
    this.flush()
  }

  /**
   * Sends a heartbeat. A consumer that had something waiting at the previous
   * heartbeat and has taken nothing since is gone without a close (a socket
   * that closed before the response was wired to it) or stuck: it is dropped
   * as slow instead of being kept open forever.
   */
  heartbeat(): void {
    if (this.closed) return
    if (this.backlogAtHeartbeat && !this.tookSinceHeartbeat) {
      this.close('slow')
      return
    }
    this.backlogAtHeartbeat = this.queuedBytes > 0 || (!this.ready && (this.sink?.buffered() ?? 0) > 0)
    this.tookSinceHeartbeat = false
    this.send(HEARTBEAT)
  }

  private enqueue(chunk: Uint8Array, urgent: boolean): void {
    if (this.closed) return
    // a sink that takes writes is keeping up: what it buffers is on its way. One that asked us to wait holds a
    // backlog, and that counts against the bound with ours
    const waiting = this.queuedBytes + (this.ready ? 0 : (this.sink?.buffered() ?? 0))
    // one event larger than the bound (a big put) still goes to a consumer with nothing waiting
    if (waiting > 0 && waiting + chunk.byteLength > this.maxQueuedBytes) {
      this.close('slow')
      return
    }
    this.queuedBytes += chunk.byteLength
    this.queue ??= []
    if (urgent) this.queue.splice(this.urgent++, 0, chunk)
    else this.queue.push(chunk)
  }

  /** Hands chunks to the sink while it takes them; the rest waits in our queue. */
  private flush(): void {
    const queue = this.queue
    if (queue === undefined || this.sink === undefined) return
    while (this.ready && !this.closed && queue.length > 0) {
      const next = queue.shift() as Uint8Array
      if (this.urgent > 0) this.urgent--
      this.queuedBytes -= next.byteLength
      this.tookSinceHeartbeat = true
      this.ready = this.sink.write(next)
    }
    if (queue.length === 0 && this.queue === queue) this.queue = undefined
  }

  close(reason: CloseReason): void {
    if (this.closed) return
    this.closed = true
    this.queue = undefined
    this.urgent = 0
    this.queuedBytes = 0
    this.sink?.end(reason === 'slow')
    this.onClose(reason)
  }
}
