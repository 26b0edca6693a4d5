import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Reads a snapshot file; undefined when it is absent or unreadable (the SDK then waits for the server). */
export async function readSnapshotFile(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch {
    return undefined
  }
}

/** Writes atomically (temporary file, then rename), so a crash never leaves half a snapshot behind. */
export async function writeSnapshotFile(path: string, snapshot: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const temporary = `${path}.${process.pid}.tmp`
  await writeFile(temporary, JSON.stringify(snapshot))
  await rename(temporary, path)
}
