/**
 * Test-only additions to sdk-core's shared fakes for the browser client: a network whose stream endpoint answers
 * with a body the test writes the client stream's events into, OFREP answers, and an in-memory `Storage`. Not part
 * of the package (not an entry point, never imported by the SDK).
 */
import { FakeBody, FakeFetch, type FakeRequest } from '@vane/sdk-core/fakes'
import type { FlagValue } from './flag-values.js'

export { settle } from '@vane/sdk-core/fakes'

const STREAM = '/client/v1/stream'

/** The client stream's body, with its two events. */
export class FakeStream extends FakeBody {
  put(flags: Record<string, FlagValue>, id = 1): void {
    this.event('put', { flags }, id)
  }

  patch(flags: Record<string, FlagValue>, deleted?: string[], id?: number): void {
    this.event('patch', { flags, ...(deleted !== undefined && { deleted }) }, id)
  }
}

/**
 * A scripted network (`answer(path, …)`, see {@link FakeFetch}); with nothing scripted, the stream endpoint answers
 * with a fresh {@link FakeStream} and anything else with 500.
 */
export class FakeNetwork extends FakeFetch {
  override fallback = (request: FakeRequest): Response =>
    request.path === STREAM
      ? this.streamResponse(request)
      : new Response('{"title":"no answer scripted"}', { status: 500 })

  protected override openStream(request: FakeRequest): FakeStream {
    return new FakeStream(request.signal, this.ignoreAbort)
  }

  /** The stream handed to the most recent stream request. */
  get stream(): FakeStream {
    return this.lastStream(STREAM) as FakeStream
  }
}

/** An OFREP bulk answer, as the server sends it. */
export function ofrep(
  flags: { key: string; value?: unknown; variant?: string; reason?: string; errorCode?: string; version?: number }[],
  etag = '"etag-1"',
): Response {
  const body = {
    flags: flags.map(({ version, ...f }) => ({
      ...f,
      ...(version !== undefined && { metadata: { flagSetId: 'production', version } }),
    })),
  }
  return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json', etag } })
}

/** `Storage` in memory; `broken` makes every call throw, as a browser with storage disabled does. */
export class MemoryStorage {
  readonly items = new Map<string, string>()
  broken = false
  reads = 0
  writes = 0

  getItem(key: string): string | null {
    this.reads++
    if (this.broken) throw new DOMException('storage is disabled', 'SecurityError')
    return this.items.get(key) ?? null
  }

  setItem(key: string, value: string): void {
    this.writes++
    if (this.broken) throw new DOMException('quota exceeded', 'QuotaExceededError')
    this.items.set(key, value)
  }
}

/** A flag value as the stream sends it. */
export const value = (v: unknown, variant?: string, version = 1, reason = 'TARGETING_MATCH'): FlagValue => ({
  value: v,
  ...(variant !== undefined && { variant }),
  reason,
  version,
})
