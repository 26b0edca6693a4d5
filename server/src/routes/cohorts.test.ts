import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { changeToPatch } from '../live/patches.js'
import { A, boolFlag, expectNoChange, expectProblem, json, mark, since } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/)

describe('cohorts routes', () => {
  let h: Harness
  const C = (key: string, rest = '') => `${A}/cohorts/${key}${rest}`
  /** Served `on` exactly when the context is in the `beta` cohort. */
  const inBeta = (targetingKey: string, env = 'production') =>
    h.hub.get(env)?.evaluate('gated', { targetingKey }, false).value

  beforeAll(async () => {
    h = await createHarness()
    expect((await h.call('PUT', `${A}/flags/gated`, boolFlag())).status).toBe(201)
  })
  afterAll(() => h.close())

  it('GET /cohorts is empty at first', async () => {
    expect(await json(await h.call('GET', `${A}/cohorts`))).toEqual({ items: [] })
  })

  it('PUT creates (201, ETag "1"): one change per environment, one audit entry', async () => {
    const before = await mark(h)
    const res = await h.call('PUT', C('beta'), {
      description: 'beta testers',
      include: ['a', 'b', 'c'],
      exclude: ['x'],
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('etag')).toBe('"1"')
    const cohort = await json(res)
    expect(cohort).toEqual({
      key: 'beta',
      description: 'beta testers',
      clauses: [],
      rollout: null,
      version: 1,
      createdAt: ISO,
      updatedAt: ISO,
    })
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({ production: 1, staging: 1 })
    expect(audit).toEqual([
      expect.objectContaining({
        actor: 'bootstrap',
        action: 'cohort.create',
        entityType: 'cohort',
        entityKey: 'beta',
        environment: null,
        reason: null,
        before: null,
        after: cohort,
      }),
    ])
    for (const env of ['production', 'staging'])
      expect(h.hub.get(env)?.cohort('beta')).toMatchObject({ include: ['a', 'b', 'c'], exclude: ['x'] })

    for (const env of ['production', 'staging'])
      expect(
        (
          await h.call('PUT', `${A}/environments/${env}/flags/gated`, {
            enabled: true,
            offVariant: 'off',
            fallthrough: { variant: 'off' },
            rules: [{ id: 'beta', cohorts: ['beta'], serve: { variant: 'on' } }],
          })
        ).status,
      ).toBe(200)
    expect([inBeta('a'), inBeta('x'), inBeta('z')]).toEqual([true, false, false])
  })

  it('GET /cohorts/:key shows the member counts; GET /cohorts lists it', async () => {
    const res = await h.call('GET', C('beta'))
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe('"1"')
    expect(await json(res)).toMatchObject({ key: 'beta', version: 1, members: { include: 3, exclude: 1 } })
    const { items } = await json<{ items: { key: string }[] }>(await h.call('GET', `${A}/cohorts`))
    expect(items).toEqual([expect.objectContaining({ key: 'beta', version: 1 })])
  })

  it('PUT with include/exclude replaces those lists (200)', async () => {
    const before = await mark(h)
    const res = await h.call('PUT', C('beta'), { include: ['c', 'd'], exclude: [] }, { 'if-match': '"1"' })
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe('"2"')
    expect(await json(res)).toMatchObject({ version: 2, description: null })
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({ production: 1, staging: 1 })
    expect(audit).toMatchObject([{ action: 'cohort.update', before: { version: 1 }, after: { version: 2 } }])
    expect(await json(await h.call('GET', C('beta')))).toMatchObject({ members: { include: 2, exclude: 0 } })
    expect([inBeta('a'), inBeta('c'), inBeta('d')]).toEqual([false, true, true])
    expect(inBeta('d', 'staging')).toBe(true)
  })

  it('PUT without lists keeps them, and its change carries the definition alone', async () => {
    const before = await mark(h)
    expect((await h.call('PUT', C('beta'), { description: 'kept', rollout: { weight: 0 } })).status).toBe(200)
    expect(await json(await h.call('GET', C('beta')))).toMatchObject({
      description: 'kept',
      version: 3,
      members: { include: 2, exclude: 0 },
    })
    expect(inBeta('d')).toBe(true)
    // a cohort of a million keys whose definition changed does not copy them into the log and every stream
    const [change] = await h.store.changesSince('production', before.versions.production!, 10)
    expect(change).toMatchObject({ entity: 'cohort', key: 'beta', op: 'define' })
    expect(change!.payload).toEqual({ key: 'beta', version: 3, rollout: { weight: 0 } })
    expect(changeToPatch(change!)).toMatchObject({ op: 'put', kind: 'cohort', keepMembers: true })
    expect(h.hub.get('production')?.cohort('beta')).toMatchObject({ include: ['c', 'd'], rollout: { weight: 0 } })
  })

  it('a stale If-Match is a 412 that changes nothing', async () => {
    await expectNoChange(h, async () => {
      await expectProblem(await h.call('PUT', C('beta'), { include: [] }, { 'if-match': '"1"' }), 412)
      await expectProblem(await h.call('DELETE', C('beta'), undefined, { 'if-match': '"1"' }), 412)
    })
    expect(await json(await h.call('GET', C('beta')))).toMatchObject({ version: 3, members: { include: 2 } })
  })

  it('POST members adds keys and counts only new ones; DELETE removes and counts', async () => {
    let before = await mark(h)
    const add = await h.call('POST', C('beta', '/members'), { include: ['d', 'e', 'f', 'f'], exclude: ['y'] })
    expect(add.status).toBe(200)
    expect(add.headers.get('etag')).toBe('"4"')
    expect(await json(add)).toEqual({ key: 'beta', version: 4, added: { include: 2, exclude: 1 } })
    let changed = await since(h, before)
    expect(changed.moved).toEqual({ production: 1, staging: 1 })
    expect(changed.audit).toEqual([
      expect.objectContaining({
        action: 'cohort.members.add',
        entityKey: 'beta',
        before: { version: 3 },
        after: { version: 4, added: { include: 2, exclude: 1 } },
      }),
    ])
    expect([inBeta('e'), inBeta('f'), inBeta('y')]).toEqual([true, true, false])

    before = await mark(h)
    const remove = await h.call('DELETE', C('beta', '/members'), { include: ['c', 'e', 'zzz'] })
    expect(remove.status).toBe(200)
    expect(await json(remove)).toEqual({ key: 'beta', version: 5, removed: { include: 2, exclude: 0 } })
    changed = await since(h, before)
    expect(changed.moved).toEqual({ production: 1, staging: 1 })
    expect(changed.audit).toMatchObject([{ action: 'cohort.members.remove', after: { removed: { include: 2 } } }])
    expect([inBeta('c'), inBeta('d'), inBeta('e')]).toEqual([false, true, false])
    expect(await json(await h.call('GET', C('beta')))).toMatchObject({ members: { include: 2, exclude: 1 } })
  })

  it('members changes that change nothing write nothing', async () => {
    await expectNoChange(h, async () => {
      const res = await h.call('POST', C('beta', '/members'), { include: ['d'] })
      expect(await json(res)).toEqual({ key: 'beta', version: 5, added: { include: 0, exclude: 0 } })
      const gone = await h.call('DELETE', C('beta', '/members'), { exclude: ['nobody'] })
      expect(await json(gone)).toEqual({ key: 'beta', version: 5, removed: { include: 0, exclude: 0 } })
    })
  })

  it('takes keys one a line as text/plain, into ?list=, read as the body arrives', async () => {
    const plain = { 'content-type': 'text/plain; charset=utf-8' }
    expect((await h.call('PUT', C('lines'), {})).status).toBe(201)
    const add = await h.call('POST', C('lines', '/members'), 'l1\r\nl2\n\nl3\n', plain)
    expect(await json(add)).toEqual({ key: 'lines', version: 2, added: { include: 3, exclude: 0 } })
    const excluded = await h.call('POST', C('lines', '/members?list=exclude'), 'l9', plain)
    expect(await json(excluded)).toEqual({ key: 'lines', version: 3, added: { include: 0, exclude: 1 } })
    const removed = await h.call('DELETE', C('lines', '/members'), 'l2\n', plain)
    expect(await json(removed)).toEqual({ key: 'lines', version: 4, removed: { include: 1, exclude: 0 } })
    expect(h.hub.get('staging')?.cohort('lines')).toMatchObject({ include: ['l1', 'l3'], exclude: ['l9'] })
    await expectNoChange(h, async () => {
      const bad = await expectProblem(
        await h.call('POST', C('lines', '/members'), `ok\n${'x'.repeat(1025)}\nfine\n`, plain),
        422,
        ['/include/1'],
      )
      expect(bad.issues?.[0]?.message).toMatch(/^line 2: a member key is at most 1024/)
      await expectProblem(await h.call('POST', C('lines', '/members'), '\n\n', plain), 422, ['/include'])
      await expectProblem(await h.call('POST', C('lines', '/members?list=other'), 'a', plain), 400)
      await expectProblem(await h.call('POST', C('lines', '/members'), 'a', { 'content-type': 'text/csv' }), 415)
    })
  })

  it('checks JSON member keys one by one: pointers to the bad ones, unknown fields refused', async () => {
    await expectNoChange(h, async () => {
      const bad = await expectProblem(
        await h.call('POST', C('lines', '/members'), { include: ['a', '', 7, 'b\u0000'], exclude: 'x', other: [] }),
        422,
        ['/other', '/include/1', '/include/2', '/include/3', '/exclude'],
      )
      expect(bad.issues?.map((i) => i.message)).toContain('contains NUL or an unpaired surrogate')
      await expectProblem(await h.call('POST', C('lines', '/members'), {}), 422, [''])
      await expectProblem(await h.call('POST', C('lines', '/members'), ['a']), 422, [''])
    })
  })

  it('refuses a cohort whose patterns add up past the budget of one cohort (422 at the pattern), before compiling', async () => {
    // about 9,000 RE2 instructions each; six of them are past 50,000
    const values = [0, 1, 2, 3, 4, 5].map((i) => `(?:abcdefghi){1000}${'b'.repeat(i + 1)}`)
    await expectNoChange(h, async () => {
      const problem = await expectProblem(
        await h.call('PUT', C('patterned'), { clauses: [{ attribute: 'email', op: 'matches', values }] }),
        422,
        ['/clauses/0/values/5'],
      )
      expect(problem.issues?.[0]?.message).toMatch(/add up to at most 50000 RE2 instructions/)
    })
    const within = await h.call('PUT', C('patterned'), {
      clauses: [{ attribute: 'email', op: 'matches', values: values.slice(0, 5) }],
    })
    expect(within.status).toBe(201)
  })

  it('takes 1,000,000 keys in one POST in seconds', async () => {
    const keys = Array.from({ length: 1_000_000 }, (_, i) => `user-${i}`)
    const body = JSON.stringify({ include: keys })
    const started = performance.now()
    const res = await h.call('PUT', C('big'), {})
    expect(res.status).toBe(201)
    const add = await h.call('POST', C('big', '/members'), body)
    const ms = performance.now() - started
    console.log(`1,000,000 members (${(body.length / 1e6).toFixed(1)} MB) added in ${ms.toFixed(0)} ms`)
    expect(add.status).toBe(200)
    expect(await json(add)).toEqual({ key: 'big', version: 2, added: { include: 1_000_000, exclude: 0 } })
    // about 6 s on an idle 2-core machine; the bound only catches a complexity regression
    expect(ms).toBeLessThan(30_000)
    expect(await json(await h.call('GET', C('big')))).toMatchObject({ members: { include: 1_000_000, exclude: 0 } })
    expect(h.hub.get('production')?.cohort('big')?.include).toHaveLength(1_000_000)
  }, 60_000)

  it('DELETE of a cohort a rule still uses is a 409 listing the references, and changes nothing', async () => {
    await expectNoChange(h, async () => {
      const problem = await expectProblem(await h.call('DELETE', C('beta')), 409)
      expect(problem.issues).toEqual([
        { pointer: '/flags/gated/rules/0/cohorts/0', message: expect.stringContaining('unknown cohort "beta"') },
      ])
    })
    expect((await h.call('GET', C('beta'))).status).toBe(200)
    expect(inBeta('d')).toBe(true)
  })

  it('DELETE of an unused cohort (204): one change per environment, audited', async () => {
    const before = await mark(h)
    const res = await h.call('DELETE', C('big'), undefined, { 'if-match': '"2"' })
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({ production: 1, staging: 1 })
    expect(audit).toEqual([
      expect.objectContaining({
        action: 'cohort.delete',
        entityType: 'cohort',
        entityKey: 'big',
        before: expect.objectContaining({ key: 'big', version: 2 }),
        after: null,
      }),
    ])
    for (const env of ['production', 'staging']) expect(h.hub.get(env)?.cohort('big')).toBeUndefined()
    await expectProblem(await h.call('GET', C('big')), 404)
  })

  it('404 for unknown cohorts', async () => {
    await expectProblem(await h.call('GET', C('nope')), 404)
    await expectNoChange(h, async () => {
      await expectProblem(await h.call('DELETE', C('nope')), 404)
      await expectProblem(await h.call('POST', C('nope', '/members'), { include: ['a'] }), 404)
      await expectProblem(await h.call('DELETE', C('nope', '/members'), { include: ['a'] }), 404)
    })
  })
})
