import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The committed drizzle-kit migrations of one dialect. Found by walking up to @vane/server's package.json,
 * because this code runs both from src/storage (tests) and bundled into dist/ (the published package).
 */
export function migrationsFolder(dialect: 'sqlite' | 'pg'): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && readName(manifest) === '@vane/server') {
      const folder = join(dir, 'drizzle', dialect)
      if (!existsSync(join(folder, 'meta', '_journal.json'))) {
        throw new Error(`Migrations for ${dialect} are missing at ${folder}; run \`pnpm db:generate\` in server/.`)
      }
      return folder
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`Cannot find @vane/server's package.json above ${import.meta.url}.`)
    dir = parent
  }
}

function readName(manifest: string): unknown {
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name
  } catch {
    return undefined
  }
}
