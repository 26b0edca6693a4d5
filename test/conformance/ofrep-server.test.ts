/**
 * The conformance spec (`test/spec/*.json`) through the official OpenFeature server SDK and its OFREP provider
 * (`@openfeature/server-sdk` + `@openfeature/ofrep-provider`) against real `vane serve` processes on loopback.
 *
 * One server process per distinct snapshot (15 file snapshots plus the distinct per-case ones): flag
 * definitions and cohorts are global on a server, and per-case snapshots reuse keys with other definitions (or
 * no flags at all), so separate processes are the only faithful reset. Each snapshot goes in through the admin
 * API (`test/support/snapshot.ts`), each case is one `get*Details(flag, default, context)` call of the typed
 * getter for the default's type, and the details are compared as described in `ofrep-cases.ts`. Cases OFREP
 * cannot express are listed, with reasons, in `MAPPED_CASES` and show up here as skipped, never dropped.
 */

import { OFREPProvider } from '@openfeature/ofrep-provider'
import {
  type Client,
  type EvaluationContext,
  type EvaluationDetails,
  type FlagValue,
  type JsonValue,
  OpenFeature,
} from '@openfeature/server-sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoadedCase, loadCases } from '../spec/load.js'
import { mapLimit, type Vane, VaneServers } from '../support/server.js'
import { type LoadedSnapshot, loadSnapshot } from '../support/snapshot.js'
import {
  checkMappingTable,
  clientContextOf,
  compareDetails,
  defaultFor,
  MAPPED_CASES,
  mappingFor,
  snapshotKey,
} from './ofrep-cases.js'

const cases = loadCases()
const files = [...new Set(cases.map((c) => c.file))]

/** Distinct snapshots, each served by its own process and bound to its own OpenFeature domain. */
const groups = new Map<string, { domain: string; snapshot: LoadedCase['effectiveSnapshot']; files: Set<string> }>()
for (const c of cases) {
  const key = snapshotKey(c)
  const group = groups.get(key) ?? { domain: `spec-${groups.size}`, snapshot: c.effectiveSnapshot, files: new Set() }
  group.files.add(c.file)
  groups.set(key, group)
}

interface Running {
  vane: Vane
  loaded: LoadedSnapshot
  client: Client
}
const servers = new VaneServers()
const running = new Map<string, Running>()
let executed = 0

/** fetch with a per-request bound, so a hung server fails the case instead of the whole run. */
const boundedFetch = (input: Request | string | URL, init?: RequestInit) =>
  fetch(input, { ...init, signal: AbortSignal.timeout(10_000) })

beforeAll(async () => {
  await mapLimit([...groups.values()], 4, async (group) => {
    const vane = await servers.start()
    const loaded = await loadSnapshot(vane, group.snapshot)
    const secret = await vane.createKey({ kind: 'server', environment: loaded.environment })
    const provider = new OFREPProvider({
      baseUrl: vane.url,
      headers: [['Authorization', `Bearer ${secret}`]],
      fetchImplementation: boundedFetch,
    })
    await OpenFeature.setProviderAndWait(group.domain, provider)
    running.set(group.domain, { vane, loaded, client: OpenFeature.getClient(group.domain) })
  })
}, 90_000)

afterAll(async () => {
  await OpenFeature.close()
  await servers.stopAll()
}, 30_000)

function runningFor(c: LoadedCase): Running {
  const domain = groups.get(snapshotKey(c))?.domain
  const found = domain === undefined ? undefined : running.get(domain)
  if (found === undefined) throw new Error(`no server for ${c.file}: ${c.name} (start-up failed?)`)
  return found
}

/** One evaluation through the typed getter the default's type selects. */
async function evaluate(client: Client, c: LoadedCase): Promise<EvaluationDetails<FlagValue>> {
  const fallback = defaultFor(c)
  const context = clientContextOf(c) as EvaluationContext
  switch (fallback.getter) {
    case 'boolean':
      return client.getBooleanDetails(c.flag, fallback.value as boolean, context)
    case 'string':
      return client.getStringDetails(c.flag, fallback.value as string, context)
    case 'number':
      return client.getNumberDetails(c.flag, fallback.value as number, context)
    case 'object':
      return client.getObjectDetails(c.flag, fallback.value as JsonValue, context)
  }
}

for (const file of files) {
  describe(`OFREP server provider: ${file}`, () => {
    for (const c of cases.filter((x) => x.file === file)) {
      // cases OFREP cannot express are listed with their reasons in ofrep-cases.ts and counted, not run
      if (mappingFor('server', c) !== undefined) continue
      it(c.name, async () => {
        const { client, loaded } = runningFor(c)
        const details = await evaluate(client, c)
        executed++
        const { actual, expected } = compareDetails(c, details, loaded.versions)
        expect(actual, `details: ${JSON.stringify(details)}`).toStrictEqual(expected)
      })
    }
  })
}

describe('OFREP server provider: coverage', () => {
  it('the mapping table names real cases and covers every context OFREP cannot send', () => {
    expect(checkMappingTable(cases)).toEqual([])
  })

  it('the only archive the server refused is the prerequisite the mapping table explains', () => {
    const refused = [...groups.values()].flatMap((g) =>
      (running.get(g.domain)?.loaded.archiveRefused ?? []).map((flag) => `${[...g.files].join(',')}: ${flag}`),
    )
    expect(refused).toEqual(['02-prerequisites.json: base-archived'])
  })

  it('ran a large majority of the spec through the official client; the rest is mapped with reasons', () => {
    const mapped = cases.filter((c) => mappingFor('server', c) !== undefined)
    const ran = cases.length - mapped.length
    console.info(
      `OFREP server provider: ${ran} of ${cases.length} spec cases ran, ${mapped.length} mapped (${groups.size} server processes):\n` +
        MAPPED_CASES.filter((m) => m.clients.includes('server'))
          .map((m) => `  ${m.file}: ${m.name} — ${m.reason}`)
          .join('\n'),
    )
    expect(executed).toBe(ran)
    expect(ran / cases.length).toBeGreaterThan(0.95)
  })
})
