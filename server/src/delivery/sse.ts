const encoder = new TextEncoder()

/** One SSE event, encoded once and shared by every connection that sends it. */
export function encodeEvent(event: string, data: string, id?: number | string): Uint8Array {
  // data never contains a raw newline: it is JSON, whose strings escape them
  const head = id === undefined ? `event: ${event}\n` : `id: ${id}\nevent: ${event}\n`
  return encoder.encode(`${head}data: ${data}\n\n`)
}

export const HEARTBEAT = encoder.encode(': ping\n\n')

/** Headers that keep proxies from buffering or caching a stream. */
export const SSE_HEADERS: Record<string, string> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-store, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
}

export interface SseConnectionOptions {
  /** Bytes queued for this connection beyond which it is dropped as too slow. */
  maxQueuedBytes: number
  /** Called once when the connection ends, whatever the cause. */
  onClose: (reason: CloseReason) => void
}

export type CloseReason = 'client' | 'slow' | 'revoked' | 'shutdown' | 'replaced'

/**
 * One SSE response. Writes never block: events queue up to a byte bound, and a
 * consumer that falls further behind is dropped (it reconnects and resumes).
 * Urgent events (kills) jump the queue. The body's `cancel` fires when the
 * socket goes away, however abruptly, so subscriptions never outlive it.
 */
export class SseConnection {
  readonly body: ReadableStream<Uint8Array>
  private controller!: ReadableStreamDefaultController<Uint8Array>
  private readonly urgent: Uint8Array[] = []
  private readonly normal: Uint8Array[] = []
  private queuedBytes = 0
  private waiting = false
  private closed = false
  /** Whether anything was queued at the last heartbeat, and whether the consumer took anything since. */
  private backlogAtHeartbeat = false
  private pulledSinceHeartbeat = true

  constructor(private readonly options: SseConnectionOptions) {
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller
        },
        pull: () => {
          this.waiting = true
          this.flush()
        },
        cancel: () => this.close('client'),
      },
      { highWaterMark: 0 },
    )
  }

  get isClosed(): boolean {
    return this.closed
  }

  /**
   * Queues an event. With `aheadCopy` (the same event without an `id`), a
   * consumer that has a backlog gets the copy ahead of it — a kill must not
   * wait behind other changes — and the original later, in order, so that
   * `Last-Event-ID` still resumes correctly.
   */
  send(chunk: Uint8Array, aheadCopy?: Uint8Array): void {
    if (this.closed) return
    if (aheadCopy !== undefined && this.normal.length > 0) this.enqueue(aheadCopy, this.urgent)
    this.enqueue(chunk, this.normal)
    this.flush()
  }

  /**
   * Sends a heartbeat. A consumer that had something waiting at the previous
   * heartbeat and has taken nothing since is gone without a cancel (a socket
   * that closed before the response was wired to it) or stuck: it is dropped
   * as slow instead of being kept open forever.
   */
  heartbeat(): void {
    if (this.closed) return
    if (this.backlogAtHeartbeat && !this.pulledSinceHeartbeat) {
      this.close('slow')
      return
    }
    this.backlogAtHeartbeat = this.queuedBytes > 0
    this.pulledSinceHeartbeat = false
    this.send(HEARTBEAT)
  }

  private enqueue(chunk: Uint8Array, lane: Uint8Array[]): void {
    if (this.closed) return
    this.queuedBytes += chunk.byteLength
    // one event larger than the bound (a big put) still goes to a consumer with nothing queued
    if (this.queuedBytes > this.options.maxQueuedBytes && this.queuedBytes > chunk.byteLength) this.close('slow')
    else lane.push(chunk)
  }

  /** Hands one chunk to the socket whenever it asks for more; the rest waits in our queues. */
  private flush(): void {
    if (!this.waiting || this.closed) return
    const next = this.urgent.shift() ?? this.normal.shift()
    if (next === undefined) return
    this.waiting = false
    this.pulledSinceHeartbeat = true
    this.queuedBytes -= next.byteLength
    this.controller.enqueue(next)
  }

  close(reason: CloseReason): void {
    if (this.closed) return
    this.closed = true
    this.urgent.length = 0
    this.normal.length = 0
    try {
      this.controller.close()
    } catch {
      // already cancelled by the client
    }
    this.options.onClose(reason)
  }
}
