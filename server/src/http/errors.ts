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
  // nginx's code: nobody reads the answer, but logs and metrics must not count the client's leaving as ours
  client_closed: 499 as ContentfulStatusCode,
  internal: 500,
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
  client_closed: 'The client closed the request before sending all of it',
  internal: 'Internal Server Error',
  unavailable: 'Service unavailable',
}

/**
 * What an OFREP evaluation error carries besides its status: OFREP's `errorCode` (`FLAG_NOT_FOUND`,
 * `PARSE_ERROR`, `INVALID_CONTEXT`, `TARGETING_KEY_MISSING`, `TYPE_MISMATCH`, `GENERAL`), the flag's key on
 * single evaluation, and the flag's metadata when it was found.
 */
export interface OfrepErrorFields {
  errorCode: string
  key?: string | undefined
  metadata?: Record<string, string | number | boolean> | undefined
}

/**
 * The one error type of the server: routes and services throw it, the app's one `onError` turns it into an
 * answer with {@link problem}. Match on `code` (with {@link isVaneError}), not `instanceof`: a copy of this
 * module bundled elsewhere has a class of its own.
 */
export class VaneError extends Error {
  readonly status: ContentfulStatusCode
  constructor(
    readonly code: ProblemCode,
    message: string,
    readonly issues: ProblemIssue[] = [],
    readonly headers: Record<string, string> = {},
    /** Set on OFREP evaluation errors, which answer in OFREP's shape. */
    readonly ofrep?: OfrepErrorFields,
  ) {
    super(message)
    this.name = 'VaneError'
    this.status = STATUS[code]
  }
}

export function isVaneError(error: unknown): error is VaneError {
  return error instanceof Error && error.name === 'VaneError' && 'code' in error && (error.code as string) in STATUS
}

/**
 * The answer for an error, built here only: RFC 9457 `application/problem+json`, or for an OFREP evaluation
 * error OFREP's body (`key`, `errorCode`, `errorDetails`, `metadata`) as `application/json`, which keeps the
 * RFC 9457 members too (OFREP's schemas allow more properties), so every error reads the same.
 */
export function problem(c: Context, error: VaneError): Response {
  const rfc9457 = {
    type:
      error.ofrep === undefined
        ? `urn:vane:problem:${error.code}`
        : `urn:vane:problem:ofrep-${error.ofrep.errorCode.toLowerCase()}`,
    title:
      error.ofrep === undefined ? TITLES[error.code] : error.status === 404 ? 'Flag not found' : 'Evaluation failed',
    status: error.status,
    detail: error.message,
  }
  const requestId = c.get('requestId' as never) as string | undefined
  let body: Record<string, unknown>
  if (error.ofrep !== undefined) {
    const { key, errorCode, metadata } = error.ofrep
    body = {
      ...(key !== undefined && { key }),
      errorCode,
      errorDetails: error.message,
      ...(metadata !== undefined && { metadata }),
      ...rfc9457,
    }
  } else {
    body = { ...rfc9457, instance: new URL(c.req.url).pathname }
    if (error.issues.length > 0) body.issues = error.issues
  }
  // OFREP bodies keep to OFREP's fields and RFC 9457's; the request id is in the header
  if (requestId !== undefined && error.ofrep === undefined) body.requestId = requestId
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: {
      'content-type': error.ofrep === undefined ? 'application/problem+json' : 'application/json',
      ...(requestId !== undefined && { 'X-Request-Id': requestId }),
      ...error.headers,
    },
  })
}

/** The answer to an error nothing expected: a plain 500, logged by the caller under the same request id. */
export const unexpected = () =>
  new VaneError('internal', 'something unexpected went wrong; the server logged it under this requestId')
