import type { Evaluator } from '@vane/engine'
import type { ChangeRecord } from '../storage/repository.js'

/**
 * Flags whose value may differ for some context after `change`; computed
 * once per change and shared by every client stream, each of which then
 * re-evaluates only these for its own context.
 */
export function affectedFlags(evaluator: Evaluator, change: ChangeRecord): Set<string> {
  return evaluator.affectedFlags(change.entity, change.key)
}
