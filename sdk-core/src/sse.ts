import { createParser } from 'eventsource-parser'

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

/**
 * Reads an SSE body from `fetch` until it ends (resolves) or fails (rejects).
 * Works wherever `fetch` streams: Node 18+, browsers, workers; unlike
 * EventSource it can POST and send headers.
 */
export async function readSse(body: ReadableStream<Uint8Array>, options: ReadSseOptions): Promise<void> {
  const parser = createParser({
    onEvent: (e) => options.onEvent({ event: e.event ?? 'message', data: e.data, id: e.id }),
    onComment: () => options.onActivity?.(),
  })
  const reader = body.getReader()
  const decoder = new TextDecoder()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      options.onActivity?.()
      parser.feed(decoder.decode(value, { stream: true }))
    }
  } finally {
    reader.releaseLock()
  }
}
