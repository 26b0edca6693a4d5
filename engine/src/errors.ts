import type { SnapshotIssue } from './schema.js'

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
