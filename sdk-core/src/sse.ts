/** One Server-Sent Event. */
export interface SseEvent {
  event: string
  data: string
  id: string | undefined
}

export interface ReadSseOptions {
  onEvent: (event: SseEvent) => void
  /** Any bytes at all, heartbeats included: proof the stream is alive. */
  onActivity?: () => void
}

/** Line ends per the SSE spec; a CR at the very end stays buffered, as it may be the first half of a CRLF. */
const LINE_END = /\r\n|\r(?!$)|\n/

/**
 * Reads an SSE body from `fetch` until it ends (resolves) or fails (rejects).
 * Works wherever `fetch` streams: Node 18+, browsers, workers; unlike
 * EventSource it can POST and send headers.
 *
 * The parser is the spec's, reduced to what a Vane stream uses: `retry` is ignored (the client's backoff
 * decides), and an event's `id` is the one it carries, never one carried over from an earlier event. It is
 * written here rather than taken from a library because it ships inside the browser SDK, whose size is budgeted.
 */
export async function readSse(body: ReadableStream<Uint8Array>, options: ReadSseOptions): Promise<void> {
  const reader = body.getReader()
  // a BOM at the start is dropped by the decoder
  const decoder = new TextDecoder()
  let buffer = ''
  /** Whether `buffer` ends with a CR, known without reading the buffer. */
  let heldCr = false
  let event = ''
  let data: string | undefined
  let id: string | undefined
  const line = (text: string): void => {
    if (text === '') {
      if (data !== undefined) options.onEvent({ event: event || 'message', data, id })
      event = ''
      data = id = undefined
      return
    }
    const colon = text.indexOf(':')
    // a comment (the server's heartbeat)
    if (colon === 0) return
    const field = colon < 0 ? text : text.slice(0, colon)
    const value = colon < 0 ? '' : text.slice(colon + (text[colon + 1] === ' ' ? 2 : 1))
    if (field === 'data') data = data === undefined ? value : `${data}\n${value}`
    else if (field === 'event') event = value
    else if (field === 'id' && !value.includes('\0')) id = value
  }
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) {
        // the stream's last CR cannot be half a CRLF any more
        if (heldCr) line(buffer.slice(0, -1))
        return
      }
      options.onActivity?.()
      const text = decoder.decode(value, { stream: true })
      buffer += text
      // a chunk inside one long line (a large snapshot) completes nothing: the line is neither scanned again nor
      // read as a whole (which would copy it), so a line of n chunks costs O(n), not O(n²)
      if (!heldCr && !/[\r\n]/.test(text)) continue
      const lines = buffer.split(LINE_END)
      buffer = lines.pop() ?? ''
      heldCr = buffer.slice(-1) === '\r'
      for (const l of lines) line(l)
    }
  } finally {
    reader.releaseLock()
  }
}
