/**
 * The size budget, in the test run: `scripts/size.mjs` on the built `dist/` (the root `test` script builds every
 * package before vitest runs). The main entry and every chunk it imports must stay within 6 KB min+gzip, and
 * none of it may be the OpenFeature provider, which lives in its own entry so that apps without OpenFeature do
 * not download it.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SCRIPT = fileURLToPath(new URL('../scripts/size.mjs', import.meta.url))
const DIST = new URL('../dist/', import.meta.url)
const BUDGET = 6 * 1024

interface Measure {
  entry: string
  files: string[]
  bytes: number
  budget: number
}

function measure(entry: string): { status: number | null; result: Measure; stderr: string } {
  const run = spawnSync(process.execPath, [SCRIPT, '--json', '--entry', entry], { encoding: 'utf8', timeout: 20_000 })
  const line = run.stdout.trim().split('\n').at(-1) ?? ''
  let result: Measure
  try {
    result = JSON.parse(line) as Measure
  } catch {
    throw new Error(`size.mjs printed no JSON (status ${run.status}): ${run.stdout}${run.stderr}`)
  }
  return { status: run.status, result, stderr: run.stderr }
}

/** Text that only the provider's code contains: its import of the web SDK and the OpenFeature provider methods. */
const PROVIDER_MARKERS = [
  '@openfeature/web-sdk',
  'OpenFeatureEventEmitter',
  'resolveBooleanEvaluation',
  'onContextChange',
  'ConfigurationChanged',
]
const providerMarkersIn = (files: string[]) =>
  files.flatMap((f) => {
    const text = readFileSync(new URL(f, DIST), 'utf8')
    return PROVIDER_MARKERS.filter((m) => text.includes(m)).map((m) => `${f}: ${m}`)
  })

describe('@vane/sdk-browser size budget', () => {
  it('dist is built', () => {
    expect(existsSync(new URL('index.js', DIST)), 'sdk-browser/dist/index.js is missing: run pnpm -r build').toBe(true)
  })

  it('the main entry with its chunks is within 6 KB min+gzip', () => {
    const { status, result, stderr } = measure('index.js')
    console.info(`@vane/sdk-browser main entry (${result.files.join(' + ')}): ${result.bytes} bytes min+gzip`)
    expect(result.budget).toBe(BUDGET)
    // the entry re-exports from a shared chunk: the closure must have followed it
    expect(result.files[0]).toBe('index.js')
    expect(result.files.length).toBeGreaterThan(1)
    expect(result.bytes).toBeGreaterThan(1_000)
    expect(result.bytes).toBeLessThanOrEqual(BUDGET)
    expect(status, stderr).toBe(0)
  })

  it("the main entry's closure holds none of the OpenFeature provider", () => {
    const { result } = measure('index.js')
    expect(result.files).not.toContain('openfeature.js')
    expect(providerMarkersIn(result.files)).toEqual([])
  })

  it('(control) the provider entry does hold it, and shares the client chunk rather than copying it', () => {
    const main = measure('index.js').result
    const provider = measure('openfeature.js').result
    expect(providerMarkersIn(provider.files).length).toBeGreaterThan(0)
    const chunks = main.files.filter((f) => f !== 'index.js')
    for (const chunk of chunks) expect(provider.files).toContain(chunk)
    const own = readFileSync(new URL('openfeature.js', DIST), 'utf8')
    expect(own).not.toContain('/client/v1/stream')
  })
})
