import { describe, expect, it } from 'vitest'
import type { ChangeRecord } from '../storage/repository.js'
import { createLocalFeed } from './feed.js'

const change = (environment: string, version: number): ChangeRecord => ({
  environment,
  version,
  entity: 'flag',
  key: `f${version}`,
  op: 'put',
  payload: null,
  createdAt: new Date(0).toISOString(),
})

describe('local change feed', () => {
  it('delivers in version order per environment when writers publish out of order', () => {
    const feed = createLocalFeed()
    const seen: string[] = []
    feed.subscribe((c) => seen.push(`${c.environment}:${c.version}`))
    feed.publish([change('a', 2)])
    feed.publish([change('b', 1)])
    expect(seen).toEqual(['b:1'])
    feed.publish([change('a', 1), change('a', 3)])
    expect(seen).toEqual(['b:1', 'a:1', 'a:2', 'a:3'])
  })

  it('drops what it already delivered and starts after a primed version', () => {
    const feed = createLocalFeed()
    const seen: number[] = []
    feed.subscribe((c) => seen.push(c.version))
    feed.prime('a', 5)
    feed.publish([change('a', 5), change('a', 6), change('a', 6)])
    expect(seen).toEqual([6])
  })

  it('fills a gap that does not close from the change log', async () => {
    const log = [change('a', 1), change('a', 2)]
    const feed = createLocalFeed({ gapMs: 5, load: async (_env, after) => log.filter((c) => c.version > after) })
    const seen: number[] = []
    feed.subscribe((c) => seen.push(c.version))
    feed.publish([change('a', 3)])
    await new Promise((r) => setTimeout(r, 50))
    expect(seen).toEqual([1, 2, 3])
  })
})

describe('local change feed catch-up', () => {
  it('reports a failed read to its caller and keeps working after it', async () => {
    let fail = true
    const log = [change('a', 1)]
    const feed = createLocalFeed({
      load: async (_env, after) => {
        if (fail) throw new Error('connection terminated')
        return log.filter((c) => c.version > after)
      },
    })
    const seen: number[] = []
    feed.subscribe((c) => seen.push(c.version))
    await expect(feed.catchUp('a')).rejects.toThrow('connection terminated')
    fail = false
    await feed.catchUp('a')
    expect(seen).toEqual([1])
  })
})
