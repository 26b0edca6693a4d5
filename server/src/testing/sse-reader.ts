/**
 * @internal
 * Reads Server-Sent Events from a response body in route tests: raw blocks as
 * sent (events and `:` comments) and parsed events. Every wait is bounded, and
 * a read that outlives a wait is kept for the next one, so no bytes are lost.
 */

/** One event as the SSE format defines it; `raw` is its exact text, blank line included. */
export interface SseEvent {
  id?: string
  event: string
  data: string
  raw: string
}

/** Parses one block (the text up to a blank line); undefined for a block of comments only. */
export function parseBlock(raw: string): SseEvent | undefined {
  let id: string | undefined
  let event = 'message'
  const data: string[] = []
  let fields = 0
  for (const line of raw.split('\n')) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    fields++
    if (field === 'id') id = value
    else if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (fields === 0) return undefined
  return { ...(id !== undefined && { id }), event, data: data.join('\n'), raw }
}

export class SseReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>
  private readonly decoder = new TextDecoder()
  private buffer = ''
  private pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> | undefined
  /** Everything received so far, as text. */
  text = ''
  /** True once the server ended the stream. */
  ended = false

  constructor(body: ReadableStream<Uint8Array> | null) {
    if (body === null) throw new Error('the response has no body')
    this.reader = body.getReader()
  }

  /** Waits for more bytes until `deadline`; false on timeout or at the end of the stream. */
  private async fill(deadline: number): Promise<boolean> {
    if (this.ended) return false
    this.pending ??= this.reader.read()
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()))
    })
    const result = await Promise.race([this.pending, timeout]).finally(() => clearTimeout(timer))
    if (result === 'timeout') return false
    this.pending = undefined
    if (result.done) {
      this.ended = true
      return false
    }
    const chunk = this.decoder.decode(result.value, { stream: true })
    this.text += chunk
    this.buffer += chunk
    return true
  }

  /** The next block (event or comment) exactly as sent, or undefined if none came within `ms`. */
  async block(ms = 2000): Promise<string | undefined> {
    const deadline = Date.now() + ms
    for (;;) {
      const end = this.buffer.indexOf('\n\n')
      if (end !== -1) {
        const raw = this.buffer.slice(0, end + 2)
        this.buffer = this.buffer.slice(end + 2)
        return raw
      }
      if (!(await this.fill(deadline))) return undefined
    }
  }

  /** The next event, skipping comments (heartbeats); undefined if none came within `ms`. */
  async event(ms = 2000): Promise<SseEvent | undefined> {
    const deadline = Date.now() + ms
    for (;;) {
      const raw = await this.block(Math.max(0, deadline - Date.now()))
      if (raw === undefined) return undefined
      const parsed = parseBlock(raw)
      if (parsed !== undefined) return parsed
    }
  }

  /** The next event; throws (with what came so far) if none came within `ms`. */
  async next(ms = 2000): Promise<SseEvent> {
    const event = await this.event(ms)
    if (event === undefined)
      throw new Error(`no event within ${ms} ms (ended: ${this.ended}); received so far:\n${this.text.slice(-2000)}`)
    return event
  }

  /** The next `n` events, in order; throws if one of them is more than `ms` late. */
  async take(n: number, ms = 2000): Promise<SseEvent[]> {
    const events: SseEvent[] = []
    for (let i = 0; i < n; i++) events.push(await this.next(ms))
    return events
  }

  /** Every event that arrives within `ms` (use it to check that nothing does). */
  async collect(ms = 250): Promise<SseEvent[]> {
    const deadline = Date.now() + ms
    const events: SseEvent[] = []
    for (;;) {
      const event = await this.event(Math.max(0, deadline - Date.now()))
      if (event === undefined) return events
      events.push(event)
    }
  }

  /** True once the server ends the stream (reading and dropping what is left), false if still open after `ms`. */
  async ends(ms = 2000): Promise<boolean> {
    const deadline = Date.now() + ms
    while (!this.ended) if (!(await this.fill(deadline)) && !this.ended) return false
    return true
  }

  /** Closes the stream from the client's side, as a browser that navigates away. */
  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {})
  }
}
