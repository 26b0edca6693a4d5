/**
 * The Node SDK as users get it: `npm pack` of the built `sdk-node`, installed with npm into an empty project
 * (its dependencies come from the npm registry), then loaded as ESM and as CommonJS, with the OpenFeature
 * provider, type-checked by a consumer's `tsc`, and compiled to CommonJS from TypeScript and run.
 * Bounded: two minutes for everything.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const SDK_DIR = fileURLToPath(new URL('../../sdk-node', import.meta.url))
const TSC = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url))
const BUDGET_MS = 120_000

/** Runs a command; resolves with stdout, rejects with everything it printed. */
function run(file: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`))
        else resolve(stdout)
      },
    )
  })
}

const SNAPSHOT = {
  environment: 'production',
  version: 4,
  cohorts: {},
  flags: {
    'new-checkout': {
      key: 'new-checkout',
      type: 'boolean',
      version: 2,
      enabled: true,
      variants: { on: true, off: false },
      offVariant: 'off',
      rules: [{ id: 'pro', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }], serve: { variant: 'on' } }],
      fallthrough: { variant: 'off' },
    },
  },
}

/** The same program as ESM and CJS: a client from a bootstrap (the URL is unreachable), and the provider. */
const program = (load: string) => `${load}
const snapshot = ${JSON.stringify(SNAPSHOT)}
async function main() {
  const client = createClient({ url: 'http://127.0.0.1:9', sdkKey: 'vane_server_x', bootstrap: snapshot, telemetry: true })
  await client.waitForReady(2000)
  const direct = [client.getBoolean('new-checkout', false, { plan: 'pro' }), client.getBoolean('new-checkout', true, { plan: 'free' })]
  await OpenFeature.setProviderAndWait(new VaneProvider({ url: 'http://127.0.0.1:9', sdkKey: 'vane_server_x', bootstrap: snapshot, readyTimeoutMs: 2000 }))
  const details = await OpenFeature.getClient().getBooleanDetails('new-checkout', false, { targetingKey: 'u1', plan: 'pro' })
  await OpenFeature.close()
  await client.close()
  console.log(JSON.stringify({ direct, value: details.value, variant: details.variant, reason: details.reason, flagSetId: details.flagMetadata.flagSetId }))
}
main().catch((error) => { console.error(error); process.exit(1) })
`

const ESM = program(`import { createClient } from '@vane/sdk-node'
import { VaneProvider } from '@vane/sdk-node/openfeature'
import { OpenFeature } from '@openfeature/server-sdk'`)

const CJS = program(`const { createClient } = require('@vane/sdk-node')
const { VaneProvider } = require('@vane/sdk-node/openfeature')
const { OpenFeature } = require('@openfeature/server-sdk')`)

/** The same program in a CommonJS TypeScript project: compiled by `tsc`, then run. */
const CJS_TS = `import { OpenFeature } from '@openfeature/server-sdk'
import { createClient, type Snapshot } from '@vane/sdk-node'
import { VaneProvider } from '@vane/sdk-node/openfeature'

const snapshot: Snapshot = ${JSON.stringify(SNAPSHOT)}

async function main(): Promise<string> {
  const client = createClient({ url: 'http://127.0.0.1:9', sdkKey: 'vane_server_x', bootstrap: snapshot, telemetry: true })
  await client.waitForReady(2000)
  const direct: boolean[] = [client.getBoolean('new-checkout', false, { plan: 'pro' }), client.getBoolean('new-checkout', true, { plan: 'free' })]
  await OpenFeature.setProviderAndWait(new VaneProvider({ url: 'http://127.0.0.1:9', sdkKey: 'vane_server_x', bootstrap: snapshot, readyTimeoutMs: 2000 }))
  const details = await OpenFeature.getClient().getBooleanDetails('new-checkout', false, { targetingKey: 'u1', plan: 'pro' })
  await OpenFeature.close()
  await client.close()
  return JSON.stringify({ direct, value: details.value, variant: details.variant, reason: details.reason, flagSetId: details.flagMetadata.flagSetId })
}
main().then((out) => console.log(out), (error: unknown) => { console.error(error); throw error })
`

/** A consumer's TypeScript: the public types must be real types, not `any`. */
const TYPES = `import { createClient, type EvaluationDetails, type Snapshot, type VaneClient } from '@vane/sdk-node'
import { VaneProvider } from '@vane/sdk-node/openfeature'
import { OpenFeature } from '@openfeature/server-sdk'

const snapshot: Snapshot = { environment: 'production', version: 1, cohorts: {}, flags: {} }
const client: VaneClient = createClient({ url: 'http://127.0.0.1:9', sdkKey: 'k', bootstrap: snapshot })
const on: boolean = client.getBoolean('f', false, { targetingKey: 'u' })
const details: EvaluationDetails<string> = client.getStringDetails('g', 'x')
// @ts-expect-error a string default for a boolean flag
client.getBoolean('f', 'no')
// @ts-expect-error a snapshot has environment, version, flags and cohorts
const broken: Snapshot = { environment: 'x' }
// @ts-expect-error not a client option
createClient({ url: 'u', sdkKey: 'k', nonsense: 1 })
void OpenFeature.setProviderAndWait(new VaneProvider(client))
void OpenFeature.setProvider(new VaneProvider({ url: 'http://127.0.0.1:9', sdkKey: 'k', readyTimeoutMs: 10 }))
export { broken, details, on }
`

describe('@vane/sdk-node packed and installed with npm', { timeout: BUDGET_MS }, () => {
  let dir: string
  let project: string
  let tarball: string

  beforeAll(async () => {
    const started = Date.now()
    const left = () => Math.max(5_000, BUDGET_MS - (Date.now() - started))
    if (!existsSync(join(SDK_DIR, 'dist', 'index.js'))) throw new Error('sdk-node/dist is missing: build first')
    dir = mkdtempSync(join(tmpdir(), 'vane-sdk-pack-'))
    const packed = await run('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], SDK_DIR, 30_000)
    tarball = join(dir, packed.trim().split('\n').at(-1)!)
    project = join(dir, 'project')
    mkdirSync(project)
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }))
    await run(
      'npm',
      [
        'install',
        tarball,
        '@openfeature/server-sdk@^1.17.0',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      project,
      left() - 15_000,
    )
  }, BUDGET_MS)

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('ships only dist, with dependencies that npm can install (no workspace links)', () => {
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules/@vane/sdk-node/package.json'), 'utf8')) as {
      dependencies: Record<string, string>
      peerDependencies: Record<string, string>
      devDependencies?: Record<string, string>
    }
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@datadog/sketches-js', 'protobufjs', 're2js', 'zod'])
    // what consumers install must resolve from the registry (devDependencies are never installed by them)
    expect(JSON.stringify([manifest.dependencies, manifest.peerDependencies])).not.toMatch(/workspace:|file:|link:/)
    const shipped = readdirSync(join(project, 'node_modules/@vane/sdk-node'), { recursive: true }).map(String)
    expect(
      shipped.filter((f) => !f.startsWith('dist') && !['package.json', 'README.md', 'LICENSE'].includes(f)),
    ).toEqual([])
    expect(shipped.some((f) => f.endsWith('.test.js') || f.includes('src/'))).toBe(false)
  })

  it('imports and declares only what it depends on (or peers, or Node built-ins)', () => {
    const root = join(project, 'node_modules/@vane/sdk-node')
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
      peerDependencies: Record<string, string>
    }
    // the package itself is allowed too: its documentation examples import it by name
    const allowed = new Set([
      '@vane/sdk-node',
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies),
    ])
    const builtins = new Set(builtinModules)
    const problems: string[] = []
    for (const file of readdirSync(join(root, 'dist'))) {
      if (!/\.(c?js|d\.c?ts)$/.test(file)) continue
      const text = readFileSync(join(root, 'dist', file), 'utf8')
      const specifiers = [...text.matchAll(/(?:from\s+|import\(\s*|require\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!)
      for (const specifier of specifiers) {
        if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier)) continue
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!
        if (!allowed.has(name)) problems.push(`${file}: ${specifier}`)
      }
    }
    expect(problems).toEqual([])
  })

  const expected = {
    direct: [true, false],
    value: true,
    variant: 'on',
    reason: 'TARGETING_MATCH',
    flagSetId: 'production',
  }

  it('loads as ESM, with the OpenFeature provider', async () => {
    writeFileSync(join(project, 'esm.mjs'), ESM)
    const out = await run(process.execPath, ['esm.mjs'], project, 20_000)
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual(expected)
  })

  it('loads as CommonJS, with the OpenFeature provider', async () => {
    writeFileSync(join(project, 'cjs.cjs'), CJS)
    const out = await run(process.execPath, ['cjs.cjs'], project, 20_000)
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual(expected)
  })

  it("type-checks in a consumer's strict TypeScript project, both entry points", async () => {
    writeFileSync(join(project, 'check.ts'), TYPES)
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['check.ts'],
      }),
    )
    await run(process.execPath, [TSC, '-p', '.'], project, 60_000)
    // and as CommonJS consumers resolve it
    writeFileSync(join(project, 'check.cts'), TYPES)
    writeFileSync(
      join(project, 'tsconfig.cjs.json'),
      JSON.stringify({ extends: './tsconfig.json', files: ['check.cts'] }),
    )
    await run(process.execPath, [TSC, '-p', 'tsconfig.cjs.json'], project, 60_000)
  })

  // a .ts file under plain `module: commonjs` (node10 resolution, which ignores `exports`) and a .cts file under node16
  it.each([
    { module: 'CommonJS', source: 'consumer-commonjs.ts', emitted: 'consumer-commonjs.js' },
    { module: 'Node16', source: 'consumer-node16.cts', emitted: 'consumer-node16.cjs' },
  ])('compiles from a CommonJS TypeScript project (module $module) and runs', async ({ module, source, emitted }) => {
    writeFileSync(join(project, source), CJS_TS)
    const config = `tsconfig.${source}.json`
    writeFileSync(
      join(project, config),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module,
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          outDir: `out-${module.toLowerCase()}`,
          skipLibCheck: true,
          types: [],
        },
        files: [source],
      }),
    )
    await run(process.execPath, [TSC, '-p', config], project, 60_000)
    const compiled = join(project, `out-${module.toLowerCase()}`, emitted)
    expect(readFileSync(compiled, 'utf8')).toContain('require("@vane/sdk-node/openfeature")')
    const out = await run(process.execPath, [compiled], project, 20_000)
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual(expected)
  })
})
