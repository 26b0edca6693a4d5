/** One problem in a snapshot: where (`path`, and as a JSON Pointer) and what. */
export interface SnapshotIssue {
  path: (string | number)[]
  pointer: string
  message: string
}

/** RFC 6901 JSON Pointer for a path. */
export function toPointer(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')
}

/**
 * Thrown by `compileSnapshot` and `Evaluator.apply` for invalid input; lists
 * every problem. Recognise it by `code`, not `instanceof`, across packages.
 */
export class SnapshotValidationError extends Error {
  readonly code = 'INVALID_SNAPSHOT'
  readonly issues: SnapshotIssue[]

  constructor(issues: SnapshotIssue[]) {
    const lines = issues.map((i) => `  ${i.pointer || '/'}: ${i.message}`)
    super(`invalid snapshot, ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${lines.join('\n')}`)
    this.name = 'SnapshotValidationError'
    this.issues = issues
  }
}
