/**
 * Backoff: full jitter in [0, min(30 s, 1 s · 2ⁿ)), reset after 60 s of health. Chance is injected, time is
 * passed in: nothing here sleeps or depends on luck.
 */
import { describe, expect, it } from 'vitest'
import { Backoff } from './backoff.js'

/** Ceilings of the first retries with the defaults: 1 s doubling, capped at 30 s. */
const CEILINGS = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]

/** A random source that returns `values` in turn (and then the last one forever). */
function sequence(...values: number[]): () => number {
  let i = 0
  return () => values[Math.min(i++, values.length - 1)]!
}

describe('Backoff', () => {
  it('waits random() × the ceiling, starting at 1 s and capped at 30 s (full jitter)', () => {
    const half = new Backoff({ random: () => 0.5 })
    expect(CEILINGS.map((_, i) => half.failed(i))).toEqual(CEILINGS.map((c) => c / 2))
    expect(half.failures).toBe(CEILINGS.length)
  })

  it('can wait no time at all (random() = 0): the lower bound of full jitter is 0, not half the ceiling', () => {
    const zero = new Backoff({ random: () => 0 })
    for (let i = 0; i < 10; i++) expect(zero.failed(i)).toBe(0)
  })

  it('stays strictly below the ceiling for random() just under 1', () => {
    const almost = 1 - 2 ** -52
    const top = new Backoff({ random: () => almost })
    CEILINGS.forEach((ceiling, i) => {
      const wait = top.failed(i)
      expect(wait).toBeLessThan(ceiling)
      expect(wait).toBeGreaterThanOrEqual(ceiling - 1)
    })
  })

  it('keeps every wait within [0, ceiling) for any random() in [0, 1)', () => {
    const draws = [0, 0.1, 0.25, 0.3333, 0.5, 0.75, 0.9, 0.999999]
    for (const draw of draws) {
      const backoff = new Backoff({ random: () => draw })
      CEILINGS.forEach((ceiling, i) => {
        const wait = backoff.failed(i)
        expect(Number.isInteger(wait)).toBe(true)
        expect(wait).toBeGreaterThanOrEqual(0)
        expect(wait).toBeLessThan(ceiling)
        expect(wait).toBe(Math.floor(draw * ceiling))
      })
    }
  })

  it('never overflows after very many failures', () => {
    const backoff = new Backoff({ random: sequence(0.5) })
    let wait = 0
    for (let i = 0; i < 2_000; i++) wait = backoff.failed(i)
    expect(wait).toBe(15_000)
  })

  it('takes its own start, cap and reset period', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 250, random: () => 0.5 })
    expect([0, 1, 2, 3].map((t) => backoff.failed(t))).toEqual([50, 100, 125, 125])
  })

  it('resets after a connection that stayed healthy for 60 s', () => {
    const backoff = new Backoff({ random: () => 0.5 })
    for (let i = 0; i < 5; i++) backoff.failed(0)
    expect(backoff.failures).toBe(5)
    backoff.succeeded(1_000)
    // failing exactly 60 s later: the attempt count starts over, so the ceiling is 1 s again
    expect(backoff.failed(61_000)).toBe(500)
    expect(backoff.failures).toBe(1)
  })

  it('does not reset after a connection that was healthy for less than 60 s', () => {
    const backoff = new Backoff({ random: () => 0.5 })
    for (let i = 0; i < 3; i++) backoff.failed(0)
    backoff.succeeded(1_000)
    expect(backoff.failed(60_999)).toBe(4_000)
    expect(backoff.failures).toBe(4)
  })

  it('counts health from the last success only, not from an earlier one', () => {
    const backoff = new Backoff({ random: () => 0.5 })
    backoff.failed(0)
    backoff.failed(0)
    backoff.succeeded(0)
    // the failure clears the healthy mark, so a later failure cannot use the old one to reset
    expect(backoff.failed(10_000)).toBe(2_000)
    expect(backoff.failed(100_000)).toBe(4_000)
    expect(backoff.failures).toBe(4)
  })

  it('honours a custom reset period', () => {
    const backoff = new Backoff({ resetAfterMs: 5_000, random: () => 0.5 })
    backoff.failed(0)
    backoff.failed(0)
    backoff.succeeded(10_000)
    expect(backoff.failed(15_000)).toBe(500)
  })
})
