/** An HTTP answer that was not what was asked for, kept as data so callers can tell a refusal from a transient failure. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/** 401 and 403: the key is refused, and no retry fixes that. */
export const isRefused = (status: number): boolean => status === 401 || status === 403
