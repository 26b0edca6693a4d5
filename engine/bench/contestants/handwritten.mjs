// Hand-written baseline: W1-W3 as plain functions, no engine. Rollouts call the
// engine's exported murmur3 directly, with Vane's bucketing (salt "/" key, mod 100000),
// so its answers match Vane's context for context.
import { murmur3 } from '../../dist/index.js'
import { COUNTRIES } from '../workloads.mjs'

const countries = new Set(COUNTRIES)

/** W1: a plain "on" flag. */
function w1(_ctx) {
  return true
}

/** MAJOR.MINOR.PATCH >= 5.0.0, hand-rolled (the pool has no prerelease tags; a leading "v" is allowed). */
function atLeast5(version) {
  const start = version.charCodeAt(0) === 118 ? 1 : 0
  const dot = version.indexOf('.', start)
  if (dot < 0) return false
  const major = Number(version.slice(start, dot))
  return major >= 5
}

/** W2: five rules that mostly miss, then a 10 % rollout. */
function w2(ctx) {
  const email = ctx.email
  if (typeof email === 'string' && email.endsWith('@example.com')) return true
  if (countries.has(ctx.country)) return true
  if (ctx.plan === 'enterprise') return true
  const version = ctx.appVersion
  if (typeof version === 'string' && atLeast5(version)) return true
  const age = ctx.age
  if (typeof age === 'number' && age > 65) return true
  return murmur3(`w2/${ctx.targetingKey}`) % 100_000 < 10_000
}

/** W3: a 33.333 / 33.333 / 33.334 split. */
function w3(ctx) {
  const bucket = murmur3(`w3/${ctx.targetingKey}`) % 100_000
  return bucket < 33_333 ? 'a' : bucket < 66_666 ? 'b' : 'c'
}

const functions = { w1, w2, w3 }

export default {
  name: 'hand',
  label: 'hand-written',
  contexts(pool) {
    return pool
  },
  one(_instance, spec) {
    const fn = functions[spec.key]
    if (fn === undefined) throw new Error(`no hand-written function for ${spec.key}`)
    return fn
  },
  value(result) {
    return result
  },
}
