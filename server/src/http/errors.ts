import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** One failing field, as an RFC 6901 JSON Pointer into the request body. */
export interface ProblemIssue {
  pointer: string
  message: string
}

const STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation: 422,
  rate_limited: 429,
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>

export type ProblemCode = keyof typeof STATUS

const TITLES: Record<ProblemCode, string> = {
  bad_request: 'Bad request',
  unauthorized: 'Missing or unknown API key',
  forbidden: 'This key may not do that',
  not_found: 'Not found',
  conflict: 'Conflict',
  precondition_failed: 'Precondition failed: the resource changed since you read it',
  payload_too_large: 'Request body too large',
  unsupported_media_type: 'Unsupported media type',
  validation: 'Invalid request',
  rate_limited: 'Too many requests',
  unavailable: 'Service unavailable',
}

/**
 * The one error type of the server: routes and services throw it, `app.onError`
 * turns it into RFC 9457 problem+json. Match on `code`, not `instanceof`.
 */
export class VaneError extends Error {
  readonly status: ContentfulStatusCode
  constructor(
    readonly code: ProblemCode,
    message: string,
    readonly issues: ProblemIssue[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'VaneError'
    this.status = STATUS[code]
  }
}

export function isVaneError(error: unknown): error is VaneError {
  return error instanceof Error && error.name === 'VaneError' && 'code' in error && (error.code as string) in STATUS
}

/** Writes an RFC 9457 problem+json response. */
export function problem(c: Context, error: VaneError): Response {
  const body: Record<string, unknown> = {
    type: `urn:vane:problem:${error.code}`,
    title: TITLES[error.code],
    status: error.status,
    detail: error.message,
    instance: new URL(c.req.url).pathname,
  }
  if (error.issues.length > 0) body.issues = error.issues
  const requestId = c.get('requestId' as never) as string | undefined
  if (requestId !== undefined) body.requestId = requestId
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: {
      'content-type': 'application/problem+json',
      ...(requestId !== undefined && { 'X-Request-Id': requestId }),
      ...error.headers,
    },
  })
}
