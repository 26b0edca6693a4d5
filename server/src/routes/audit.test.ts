import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditRecord } from '../storage/repository.js'
import { A, boolFlag, expectProblem, json } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

interface Page {
  items: AuditRecord[]
  nextCursor?: string
}

describe('GET /admin/v1/audit', () => {
  let h: Harness
  let cut = ''
  const page = async (query: string) => {
    const res = await h.call('GET', `${A}/audit${query}`)
    expect(res.status).toBe(200)
    return json<Page>(res)
  }

  beforeAll(async () => {
    h = await createHarness()
    // 2 environments, then 3 flags, a cohort and a kill: 7 entries
    for (const key of ['alpha', 'beta']) await h.call('PUT', `${A}/flags/${key}`, boolFlag())
    await h.call('PUT', `${A}/cohorts/testers`, { include: ['u1'] })
    await sleep(20)
    cut = new Date().toISOString()
    await sleep(5)
    await h.call('PUT', `${A}/flags/gamma`, boolFlag())
    await h.call('POST', `${A}/environments/production/flags/alpha/kill`, { reason: 'INC-7' })
  })
  afterAll(() => h.close())

  it('lists entries newest first, each with its full shape', async () => {
    const { items, nextCursor } = await page('')
    expect(nextCursor).toBeUndefined()
    expect(items.map((i) => [i.action, i.entityKey])).toEqual([
      ['flag.kill', 'alpha'],
      ['flag.create', 'gamma'],
      ['cohort.create', 'testers'],
      ['flag.create', 'beta'],
      ['flag.create', 'alpha'],
      ['environment.create', 'staging'],
      ['environment.create', 'production'],
      ['key.create', expect.any(String)],
    ])
    expect(items[0]).toEqual({
      id: expect.any(Number),
      at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      actor: 'bootstrap',
      action: 'flag.kill',
      entityType: 'flag',
      entityKey: 'alpha',
      environment: 'production',
      before: expect.objectContaining({ killed: false }),
      after: expect.objectContaining({ killed: true, killReason: 'INC-7' }),
      reason: 'INC-7',
    })
    const ids = items.map((i) => i.id)
    expect(ids).toEqual([...ids].sort((a, b) => b - a))
  })

  it('pages with limit and nextCursor, without gaps or repeats', async () => {
    const all = (await page('')).items
    const seen: AuditRecord[] = []
    let query = '?limit=3'
    let pages = 0
    for (;;) {
      const p = await page(query)
      pages++
      expect(p.items.length).toBeLessThanOrEqual(3)
      seen.push(...p.items)
      if (p.nextCursor === undefined) break
      expect(p.nextCursor).toBe(String(p.items.at(-1)?.id))
      query = `?limit=3&cursor=${p.nextCursor}`
    }
    expect(pages).toBe(3)
    expect(seen).toEqual(all)
  })

  it('a page that ends exactly at the last entry has no nextCursor', async () => {
    const total = (await page('')).items.length
    expect((await page(`?limit=${total}`)).nextCursor).toBeUndefined()
    expect((await page(`?limit=${total - 1}`)).nextCursor).toBeDefined()
  })

  it('filters by entity type and by type:key', async () => {
    const flags = (await page('?entity=flag')).items
    expect(flags.map((i) => [i.action, i.entityKey])).toEqual([
      ['flag.kill', 'alpha'],
      ['flag.create', 'gamma'],
      ['flag.create', 'beta'],
      ['flag.create', 'alpha'],
    ])
    const alpha = (await page('?entity=flag:alpha')).items
    expect(alpha.map((i) => i.action)).toEqual(['flag.kill', 'flag.create'])
    expect((await page('?entity=cohort:testers')).items.map((i) => i.action)).toEqual(['cohort.create'])
    expect((await page('?entity=flag:nope')).items).toEqual([])
  })

  it('filters by since, combined with entity and paging', async () => {
    expect((await page(`?since=${cut}`)).items.map((i) => i.entityKey)).toEqual(['alpha', 'gamma'])
    const offset = cut.replace('Z', '+00:00')
    expect((await page(`?since=${encodeURIComponent(offset)}`)).items).toHaveLength(2)
    expect((await page(`?since=${cut}&entity=flag:alpha`)).items.map((i) => i.action)).toEqual(['flag.kill'])
    const first = await page(`?since=${cut}&limit=1`)
    expect(first.items.map((i) => i.entityKey)).toEqual(['alpha'])
    const second = await page(`?since=${cut}&limit=1&cursor=${first.nextCursor}`)
    expect(second.items.map((i) => i.entityKey)).toEqual(['gamma'])
    expect(second.nextCursor).toBeUndefined()
    expect((await page('?since=2999-01-01T00:00:00Z')).items).toEqual([])
  })

  it('rejects bad queries with a pointer at the parameter', async () => {
    await expectProblem(await h.call('GET', `${A}/audit?limit=0`), 422, ['/limit'])
    await expectProblem(await h.call('GET', `${A}/audit?limit=501`), 422, ['/limit'])
    await expectProblem(await h.call('GET', `${A}/audit?limit=ten`), 422, ['/limit'])
    await expectProblem(await h.call('GET', `${A}/audit?cursor=-3`), 422, ['/cursor'])
    await expectProblem(await h.call('GET', `${A}/audit?since=yesterday`), 422, ['/since'])
    await expectProblem(await h.call('GET', `${A}/audit?sort=asc`), 422, ['/sort'])
  })
})
