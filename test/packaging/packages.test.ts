/**
 * What npm would publish, checked offline the way consumers meet it. Each publishable package is packed with pnpm
 * (as a release would: `files` applied, `workspace:` ranges rewritten) and the tarball is linted by publint and by
 * "Are the types wrong?"; its files, licence and imports are checked against its manifest, and the server's `vane`
 * command is started from it (the unpacked files run on the dependencies the workspace installed). Then the two dual
 * packages, the engine and the Node SDK, are loaded from every module system a consumer may use: ESM `import`,
 * CommonJS `require`, an ES module importing the CommonJS build by path, and TypeScript under nodenext, node16,
 * bundler and plain `module: commonjs` (node10) resolution, from `.ts`, `.mts` and `.cts` files. The engine's and
 * the server's README examples are compiled against the packed packages too.
 */
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { builtinModules } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ATTW = join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js')
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')
const BUDGET_MS = 180_000

interface Published {
  dir: string
  name: string
  /** Which of attw's resolution modes must be clean: `esm-only` packages do not serve `require` or node10. */
  profile: 'strict' | 'esm-only'
  /** Top-level entries of the tarball besides package.json, LICENSE and README.md. */
  ships: string[]
}

const PACKAGES: Published[] = [
  { dir: 'engine', name: '@vane/engine', profile: 'strict', ships: ['dist'] },
  { dir: 'sdk-node', name: '@vane/sdk-node', profile: 'strict', ships: ['dist'] },
  { dir: 'sdk-browser', name: '@vane/sdk-browser', profile: 'esm-only', ships: ['dist'] },
  { dir: 'server', name: '@vane/server', profile: 'esm-only', ships: ['dist', 'drizzle'] },
]

const IGNORED_RESOLUTIONS = { strict: [], 'esm-only': ['node10', 'node16-cjs'] } as const

interface Exited {
  code: number
  stdout: string
  stderr: string
}

/** Runs a command to its end, whatever its exit code. */
function exec(file: string, args: string[], cwd: string, timeoutMs: number): Promise<Exited> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(new Error(`${file} ${args.join(' ')}: ${error}`))
        else resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
      },
    )
  })
}

/** Runs a command; resolves with stdout, rejects with everything it printed. */
async function run(file: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  const { code, stdout, stderr } = await exec(file, args, cwd, timeoutMs)
  if (code !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${code}\n${stdout}\n${stderr}`)
  return stdout
}

interface Manifest {
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}

let work: string
const tarballs = new Map<string, string>()
const unpacked = new Map<string, string>()
/** The top-level entries of each tarball's `package/` folder. */
const topLevel = new Map<string, string[]>()

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vane-packages-'))
  await Promise.all(
    PACKAGES.map(async (pkg) => {
      const into = join(work, pkg.dir)
      mkdirSync(into)
      // from npx's cache when it has pnpm, so the check runs offline
      await run(
        'npx',
        ['--prefer-offline', '--yes', 'pnpm@12.4.2', 'pack', '--pack-destination', into],
        join(ROOT, pkg.dir),
        60_000,
      )
      const tarball = readdirSync(into).find((f) => f.endsWith('.tgz'))
      if (tarball === undefined) throw new Error(`pnpm pack left no tarball for ${pkg.name}`)
      tarballs.set(pkg.dir, join(into, tarball))
      const listing = await run('tar', ['tzf', tarball], into, 30_000)
      const entries = listing
        .trim()
        .split('\n')
        .map((path) => path.split('/')[1]!)
      topLevel.set(pkg.dir, [...new Set(entries)].sort())
      await run('tar', ['xzf', tarball], into, 30_000)
      unpacked.set(pkg.dir, join(into, 'package'))
    }),
  )
}, BUDGET_MS)

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
})

describe.each(PACKAGES)('$name as packed', { timeout: BUDGET_MS }, (pkg) => {
  it('passes publint, suggestions included', async () => {
    const tarball = readFileSync(tarballs.get(pkg.dir)!)
    const { messages, pkg: manifest } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      level: 'suggestion',
      strict: true,
    })
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, manifest, { color: false })}`)).toEqual([])
  })

  it('has types that are not wrong (attw) in every module resolution it serves', async () => {
    const { stdout, stderr } = await exec(
      process.execPath,
      [ATTW, tarballs.get(pkg.dir)!, '--format', 'json'],
      work,
      60_000,
    )
    const result = JSON.parse(stdout || stderr) as {
      analysis: { types: unknown; problems: { kind: string; entrypoint?: string; resolutionKind?: string }[] }
    }
    expect(result.analysis.types).toBeTruthy()
    const ignored: readonly string[] = IGNORED_RESOLUTIONS[pkg.profile]
    const problems = result.analysis.problems
      .filter((p) => p.resolutionKind === undefined || !ignored.includes(p.resolutionKind))
      .map((p) => `${p.kind} at "${p.entrypoint ?? ''}" (${p.resolutionKind ?? 'any'})`)
    expect(problems).toEqual([])
  })

  it('ships its build, README and the Apache-2.0 LICENSE, with ranges npm can install', () => {
    const root = unpacked.get(pkg.dir)!
    expect(topLevel.get(pkg.dir)).toEqual(['LICENSE', 'README.md', 'package.json', ...pkg.ships].sort())
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toBe(readFileSync(join(ROOT, 'LICENSE'), 'utf8'))
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest & {
      license: string
      private?: boolean
    }
    expect(manifest.license).toBe('Apache-2.0')
    expect(manifest.private).toBeUndefined()
    expect(JSON.stringify([manifest.dependencies, manifest.peerDependencies])).not.toMatch(/workspace:|file:|link:/)
  })

  it('imports only what it declares (dependencies, peers, Node built-ins)', () => {
    const root = unpacked.get(pkg.dir)!
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest
    // the package itself too: documentation examples import it by name
    const allowed = new Set([
      pkg.name,
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
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
})

/** The unpacked package, given the dependencies the workspace installed for it; once the files are checked. */
function withDependencies(dir: string): string {
  const root = unpacked.get(dir)!
  if (!existsSync(join(root, 'node_modules'))) symlinkSync(join(ROOT, dir, 'node_modules'), join(root, 'node_modules'))
  return root
}

describe('the `vane` command as packed', { timeout: BUDGET_MS }, () => {
  it('starts from the tarball (migrations included), answers, and stops on SIGTERM', async () => {
    const root = withDependencies('server')
    const dataDir = join(work, 'server-data')
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }
    const child = spawn(process.execPath, [join(root, manifest.bin.vane!), 'serve'], {
      cwd: work,
      env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', VANE_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = once(child, 'exit')
    let output = ''
    const listening = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "vane listening" line in 30 s:\n${output}`)), 30_000)
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk
      })
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk
        for (const line of output.split('\n')) {
          if (!line.includes('"vane listening"')) continue
          clearTimeout(timer)
          resolve((JSON.parse(line) as { url: string }).url)
        }
      })
      void exited.then(() => reject(new Error(`vane exited before listening:\n${output}`)))
    })
    try {
      const health = await fetch(`${await listening}/healthz`)
      expect(health.status).toBe(200)
      expect(((await health.json()) as { status: string }).status).toBe('ok')
    } catch (error) {
      child.kill('SIGKILL')
      throw error
    }
    child.kill('SIGTERM')
    const [code] = await exited
    expect(code).toBe(0)
  })
})

const SNAPSHOT = {
  environment: 'production',
  version: 1,
  cohorts: {},
  flags: {
    'new-checkout': {
      key: 'new-checkout',
      type: 'boolean',
      version: 1,
      enabled: true,
      variants: { on: true, off: false },
      offVariant: 'off',
      rules: [{ id: 'pro', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }], serve: { variant: 'on' } }],
      fallthrough: { variant: 'off' },
    },
  },
}

/** One program, headed by each module system's way of loading both packages. */
const program = (load: string) => `${load}
const snapshot = ${JSON.stringify(SNAPSHOT)}
async function main() {
  const engine = compileSnapshot(snapshot).evaluate('new-checkout', { targetingKey: 'u1', plan: 'pro' }, false)
  const client = createClient({ url: 'http://127.0.0.1:9', sdkKey: 'vane_server_x', bootstrap: snapshot })
  await client.waitForReady(2000)
  const sdk = client.getBoolean('new-checkout', false, { plan: 'pro' })
  await client.close()
  console.log(JSON.stringify({ engine: engine.reason, valid: parseSnapshot(snapshot).success, sdk, provider: typeof VaneProvider }))
}
main().catch((error) => { console.error(error); process.exit(1) })
`

const LOADERS = {
  'ESM import': [
    'esm.mjs',
    `import { compileSnapshot } from '@vane/engine'
import { parseSnapshot } from '@vane/engine/schema'
import { createClient } from '@vane/sdk-node'
import { VaneProvider } from '@vane/sdk-node/openfeature'`,
  ],
  'CommonJS require': [
    'cjs.cjs',
    `const { compileSnapshot } = require('@vane/engine')
const { parseSnapshot } = require('@vane/engine/schema')
const { createClient } = require('@vane/sdk-node')
const { VaneProvider } = require('@vane/sdk-node/openfeature')`,
  ],
  // named exports of a CommonJS file reach ES modules only if Node's cjs-module-lexer can find them
  'ESM importing the CommonJS build by path': [
    'esm-from-cjs.mjs',
    `import { compileSnapshot } from './node_modules/@vane/engine/dist/index.cjs'
import { parseSnapshot } from './node_modules/@vane/engine/dist/schema.cjs'
import { createClient } from './node_modules/@vane/sdk-node/dist/index.cjs'
import { VaneProvider } from './node_modules/@vane/sdk-node/dist/openfeature.cjs'`,
  ],
} as const

/** A consumer's TypeScript: the public types must be real types, not `any`, from both entry points of each. */
const TYPES = `import { compileSnapshot, type EvaluationResult, type Snapshot } from '@vane/engine'
import { parseSnapshot, type ParseSnapshotResult } from '@vane/engine/schema'
import { createClient, type VaneClient } from '@vane/sdk-node'
import { VaneProvider } from '@vane/sdk-node/openfeature'

const snapshot: Snapshot = { environment: 'production', version: 1, cohorts: {}, flags: {} }
const result: EvaluationResult<boolean> = compileSnapshot(snapshot).evaluate('f', { targetingKey: 'u' }, false)
const parsed: ParseSnapshotResult = parseSnapshot(snapshot)
const client: VaneClient = createClient({ url: 'http://127.0.0.1:9', sdkKey: 'k', bootstrap: snapshot })
const provider = new VaneProvider(client)
// @ts-expect-error a snapshot has environment, version, flags and cohorts
const broken: Snapshot = { environment: 'x' }
// @ts-expect-error a string default for a boolean flag
client.getBoolean('f', 'no')
export { broken, parsed, provider, result }
`

const RESOLUTIONS = {
  nodenext: { options: { module: 'NodeNext', moduleResolution: 'NodeNext' }, files: ['check.mts', 'check.cts'] },
  node16: { options: { module: 'Node16', moduleResolution: 'Node16' }, files: ['check.mts', 'check.cts'] },
  bundler: { options: { module: 'ESNext', moduleResolution: 'Bundler' }, files: ['check.ts'] },
  // what `module: commonjs` implies: node10, which knows no `exports`
  commonjs: { options: { module: 'CommonJS' }, files: ['check.ts'] },
} as const

describe('the engine and the Node SDK from every module system, and the READMEs', { timeout: BUDGET_MS }, () => {
  let project: string

  beforeAll(() => {
    project = join(work, 'consumer')
    mkdirSync(join(project, 'node_modules/@vane'), { recursive: true })
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
    for (const dir of ['engine', 'sdk-node', 'server']) {
      symlinkSync(withDependencies(dir), join(project, 'node_modules/@vane', dir), 'dir')
    }
    symlinkSync(join(ROOT, 'node_modules/@types'), join(project, 'node_modules/@types'), 'dir')
    for (const file of ['check.ts', 'check.mts', 'check.cts']) writeFileSync(join(project, file), TYPES)
  })

  it("compiles the TypeScript examples of the engine's and the server's READMEs", async () => {
    const files: string[] = []
    for (const dir of ['engine', 'server']) {
      const readme = readFileSync(join(unpacked.get(dir)!, 'README.md'), 'utf8')
      const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!)
      expect(blocks.length).toBeGreaterThan(0)
      blocks.forEach((code, i) => {
        files.push(`readme-${dir}-${i}.mts`)
        writeFileSync(join(project, files.at(-1)!), `${code}export {}\n`)
      })
    }
    writeFileSync(
      join(project, 'tsconfig.readme.json'),
      JSON.stringify({
        compilerOptions: {
          ...RESOLUTIONS.nodenext.options,
          strict: true,
          target: 'ES2022',
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        files,
      }),
    )
    await run(process.execPath, [TSC, '-p', 'tsconfig.readme.json'], project, 60_000)
  })

  it.each(Object.entries(LOADERS))('runs under %s', async (_, [file, load]) => {
    writeFileSync(join(project, file), program(load))
    const out = await run(process.execPath, [file], project, 30_000)
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
      engine: 'TARGETING_MATCH',
      valid: true,
      sdk: true,
      provider: 'function',
    })
  })

  it.each(Object.entries(RESOLUTIONS))('type-checks under moduleResolution %s', async (name, { options, files }) => {
    const config = `tsconfig.${name}.json`
    writeFileSync(
      join(project, config),
      JSON.stringify({
        compilerOptions: { ...options, strict: true, target: 'ES2022', noEmit: true, skipLibCheck: true, types: [] },
        files,
      }),
    )
    await run(process.execPath, [TSC, '-p', config], project, 60_000)
  })
})
