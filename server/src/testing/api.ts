/**
 * @internal
 * Assertions shared by the route tests: problem+json answers, and what a write
 * left behind (environment versions, audit entries, the hub).
 */
import { expect } from 'vitest'
import type { AuditRecord, EnvironmentRecord } from '../storage/repository.js'
import type { Harness } from './harness.js'

export const A = '/admin/v1'

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T
}

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  instance: string
  issues?: { pointer: string; message: string }[]
}

/** Asserts an RFC 9457 answer with `status` and, when given, exactly these issue pointers. */
export async function expectProblem(res: Response, status: number, pointers?: string[]): Promise<Problem> {
  const text = await res.text()
  expect(res.status, text).toBe(status)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  const body = JSON.parse(text) as Problem
  expect(body).toMatchObject({ status, type: expect.stringMatching(/^urn:vane:problem:/) })
  expect(typeof body.title).toBe('string')
  expect(typeof body.detail).toBe('string')
  if (pointers !== undefined) expect(body.issues?.map((i) => i.pointer)).toEqual(pointers)
  return body
}

export async function envVersions(h: Harness): Promise<Record<string, number>> {
  const res = await h.call('GET', `${A}/environments`)
  expect(res.status).toBe(200)
  const { items } = await json<{ items: EnvironmentRecord[] }>(res)
  return Object.fromEntries(items.map((e) => [e.key, e.version]))
}

export async function auditLog(h: Harness, query = ''): Promise<AuditRecord[]> {
  const res = await h.call('GET', `${A}/audit?limit=500${query}`)
  expect(res.status).toBe(200)
  return (await json<{ items: AuditRecord[] }>(res)).items
}

export interface Mark {
  versions: Record<string, number>
  auditId: number
}

/** Where the environments and the audit log stand before a write. */
export async function mark(h: Harness): Promise<Mark> {
  return { versions: await envVersions(h), auditId: (await auditLog(h))[0]?.id ?? 0 }
}

/**
 * What happened since `before`: how far each environment's version moved (only
 * environments that moved are listed) and the new audit entries, oldest first.
 * Also checks that the hub serves every environment at its stored version.
 */
export async function since(
  h: Harness,
  before: Mark,
): Promise<{ moved: Record<string, number>; audit: AuditRecord[] }> {
  const versions = await envVersions(h)
  const moved: Record<string, number> = {}
  for (const [env, version] of Object.entries(versions)) {
    const delta = version - (before.versions[env] ?? 0)
    if (delta !== 0) moved[env] = delta
    expect(h.hub.get(env)?.version, `hub version of ${env}`).toBe(version)
  }
  const audit = (await auditLog(h)).filter((a) => a.id > before.auditId).reverse()
  return { moved, audit }
}

/** Runs `fn` and asserts it changed nothing: versions, audit log, hub. */
export async function expectNoChange(h: Harness, fn: () => Promise<unknown>): Promise<void> {
  const before = await mark(h)
  await fn()
  expect(await since(h, before)).toEqual({ moved: {}, audit: [] })
}

export const boolFlag = (extra: Record<string, unknown> = {}) => ({
  type: 'boolean',
  variants: { on: true, off: false },
  ...extra,
})
