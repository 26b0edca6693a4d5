import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, expectNoChange, expectProblem, json, mark, since } from '../testing/api.js'
import { ADMIN_SECRET, createHarness, type Harness } from '../testing/harness.js'

const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/)

interface CreatedKey {
  id: string
  secret: string
  prefix: string
}

describe('keys routes', () => {
  let h: Harness
  const as = (secret: string, path = `${A}/flags`) =>
    h.app.request(path, { headers: { authorization: `Bearer ${secret}` } })

  beforeAll(async () => {
    h = await createHarness()
  })
  afterAll(() => h.close())

  it('GET /keys lists the bootstrap key without its hash', async () => {
    const res = await h.call('GET', `${A}/keys`)
    expect(res.status).toBe(200)
    expect(await json(res)).toEqual({
      items: [
        {
          id: expect.any(String),
          name: 'bootstrap',
          kind: 'admin',
          environment: null,
          prefix: ADMIN_SECRET.slice(0, Math.floor(ADMIN_SECRET.length / 3)),
          allowedOrigins: [],
          createdAt: ISO,
          revokedAt: null,
          secureMode: false,
        },
      ],
    })
  })

  const secrets: string[] = []
  /** Secrets that are not API keys but must never be shown again either. */
  const hidden: string[] = []
  it('POST creates a key (201), returning its secret this once; audited without hash or secret', async () => {
    const before = await mark(h)
    const res = await h.call('POST', `${A}/keys`, { kind: 'server', name: 'api', environment: 'production' })
    expect(res.status).toBe(201)
    const key = await json<CreatedKey>(res)
    expect(key).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'api',
      kind: 'server',
      environment: 'production',
      prefix: key.secret.slice(0, 18),
      allowedOrigins: [],
      createdAt: ISO,
      revokedAt: null,
      secureMode: false,
      secret: expect.stringMatching(/^vane_server_[A-Za-z0-9_-]{43}$/),
    })
    secrets.push(key.secret)
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({})
    expect(audit).toEqual([
      expect.objectContaining({
        actor: 'bootstrap',
        action: 'key.create',
        entityType: 'key',
        entityKey: key.id,
        environment: 'production',
        before: null,
        after: expect.objectContaining({ id: key.id, kind: 'server' }),
      }),
    ])
    expect(audit[0]?.after).not.toHaveProperty('hash')
    expect(JSON.stringify(audit)).not.toContain(key.secret)
  })

  it('client keys keep only the origins of allowedOrigins', async () => {
    const res = await h.call('POST', `${A}/keys`, {
      kind: 'client',
      name: 'web',
      environment: 'staging',
      allowedOrigins: ['https://app.example.com/path?q=1', 'http://localhost:3000'],
    })
    expect(res.status).toBe(201)
    const key = await json<CreatedKey & { allowedOrigins: string[] }>(res)
    expect(key.allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:3000'])
    expect(key.secret).toMatch(/^vane_client_/)
    secrets.push(key.secret)
  })

  it('a client key in secure mode gets its secureModeSecret once; listings and the audit only say secureMode', async () => {
    const before = await mark(h)
    const res = await h.call('POST', `${A}/keys`, {
      kind: 'client',
      name: 'secure-web',
      environment: 'production',
      secureMode: true,
    })
    expect(res.status).toBe(201)
    const key = await json<CreatedKey & { secureMode: boolean; secureModeSecret: string }>(res)
    expect(key.secureMode).toBe(true)
    expect(key.secureModeSecret).toMatch(/^vane_secure_[A-Za-z0-9_-]{43}$/)
    secrets.push(key.secret)
    hidden.push(key.secureModeSecret)
    const stored = await h.store.getApiKey(key.id)
    expect(stored?.secureModeSecret).toBe(key.secureModeSecret)
    const { audit } = await since(h, before)
    expect(audit).toMatchObject([{ action: 'key.create', after: { id: key.id, secureMode: true } }])
    expect(JSON.stringify(audit)).not.toContain(key.secureModeSecret)
    const listed = await json<{ items: Record<string, unknown>[] }>(await h.call('GET', `${A}/keys`))
    const item = listed.items.find((k) => k.id === key.id)
    expect(item).toMatchObject({ secureMode: true })
    expect(item).not.toHaveProperty('secureModeSecret')
    // without secureMode a client key has no secret of that kind
    const plain = await json(await h.call('POST', `${A}/keys`, { kind: 'client', name: 'w2', environment: 'staging' }))
    expect(plain).toMatchObject({ secureMode: false })
    expect(plain).not.toHaveProperty('secureModeSecret')
    expect((await h.store.getApiKey(plain.id as string))?.secureModeSecret).toBeNull()
  })

  it('secureMode is for client keys only (422 at /secureMode)', async () => {
    await expectNoChange(h, async () => {
      for (const body of [
        { kind: 'server', name: 's', environment: 'production', secureMode: true },
        { kind: 'admin', name: 'a', secureMode: false },
      ])
        await expectProblem(await h.call('POST', `${A}/keys`, body), 422, ['/secureMode'])
      await expectProblem(
        await h.call('POST', `${A}/keys`, { kind: 'client', name: 'c', environment: 'production', secureMode: 'yes' }),
        422,
        ['/secureMode'],
      )
    })
  })

  it('GET /keys never shows a secret or a hash', async () => {
    const text = await (await h.call('GET', `${A}/keys`)).text()
    const { items } = JSON.parse(text) as { items: Record<string, unknown>[] }
    expect(items.map((k) => k.name)).toEqual(['bootstrap', 'api', 'web', 'secure-web', 'w2'])
    for (const item of items) {
      expect(item).not.toHaveProperty('hash')
      expect(item).not.toHaveProperty('secret')
    }
    for (const secret of [...secrets, ...hidden]) expect(text).not.toContain(secret)
    expect(text).not.toMatch(/[0-9a-f]{64}/)
  })

  it('a new admin key works at once; revoking it (200) locks it out at once', async () => {
    const created = await json<CreatedKey>(await h.call('POST', `${A}/keys`, { kind: 'admin', name: 'ops' }))
    expect((await as(created.secret)).status).toBe(200)
    const before = await mark(h)
    const res = await h.call('DELETE', `${A}/keys/${created.id}`)
    expect(res.status).toBe(200)
    const revoked = await json(res)
    expect(revoked).toMatchObject({ id: created.id, name: 'ops', revokedAt: ISO })
    expect(revoked).not.toHaveProperty('hash')
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({})
    expect(audit).toMatchObject([{ action: 'key.revoke', entityKey: created.id, after: { revokedAt: ISO } }])

    const locked = await as(created.secret)
    expect(locked.status).toBe(401)
    expect(locked.headers.get('www-authenticate')).toBe('Bearer realm="vane"')
    await expectProblem(locked, 401)
    const { items } = await json<{ items: { id: string; revokedAt: string | null }[] }>(
      await h.call('GET', `${A}/keys`),
    )
    expect(items.find((k) => k.id === created.id)?.revokedAt).toEqual(expect.any(String))
  })

  it('revoking a revoked key changes nothing; an unknown id is a 404', async () => {
    const { items } = await json<{ items: { id: string; name: string }[] }>(await h.call('GET', `${A}/keys`))
    const ops = items.find((k) => k.name === 'ops')!
    await expectNoChange(h, async () => {
      expect((await h.call('DELETE', `${A}/keys/${ops.id}`)).status).toBe(200)
      await expectProblem(await h.call('DELETE', `${A}/keys/00000000-0000-0000-0000-000000000000`), 404)
    })
  })

  it('server and client keys cannot use the admin API (403)', async () => {
    for (const secret of secrets) await expectProblem(await as(secret), 403)
  })

  it('a key for an unknown environment is a 422 at /environment', async () => {
    await expectNoChange(h, async () => {
      const res = await h.call('POST', `${A}/keys`, { kind: 'server', name: 'x', environment: 'nope' })
      await expectProblem(res, 422, ['/environment'])
    })
  })
})
