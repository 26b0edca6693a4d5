// What every benchmark records beside its figures: the machine, the commit, how busy the shared cores were
// as each phase started, and the JSON file the run writes.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoDir = fileURLToPath(new URL('..', import.meta.url))
export const resultsDir = join(repoDir, 'bench-results')

/** `git <args>` in the repository, trimmed; undefined when git is missing or fails. */
export function git(...args) {
  try {
    return execFileSync('git', args, { cwd: repoDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return undefined
  }
}

/** The commit, and whether `paths` have uncommitted changes (undefined when git could not say). */
export function commitOf(...paths) {
  const dirty = git('status', '--porcelain', '--', ...paths)
  return { commit: git('rev-parse', '--short', 'HEAD'), dirty: dirty === undefined ? undefined : dirty.length > 0 }
}

/** The version of `pkg` as installed for the package in `packageDir`; undefined when it is not. */
export function installedVersion(packageDir, pkg) {
  try {
    const dir = realpathSync(join(packageDir, 'node_modules', pkg))
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version
  } catch {
    return undefined
  }
}

/** The machine fields every result file starts its `machine` with. */
export function machine() {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model,
    logicalCpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
  }
}

/** `AMD EPYC × 2, 25 GB, Node v20.20.2`: the start of every table's header line. */
export function machineLine() {
  return `${os.cpus()[0]?.model} × ${os.availableParallelism()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}`
}

/**
 * The 1-minute load average as each phase starts: other work on these shared cores skews every figure.
 * `phase(name, message)` records it under `name` and prints `message`, with a warning when the cores are busy.
 */
export function loadTracker() {
  const load = {}
  return {
    load,
    phase(name, message) {
      const avg = os.loadavg()[0]
      load[name] = avg
      const busy = avg > 1.5 ? ` (load average ${avg.toFixed(2)}: other work is running, figures will be noisy)` : ''
      process.stderr.write(`${message}${busy}\n`)
    },
    /** A paragraph for the table when the cores were busy during the run, else ''. */
    note() {
      const maxLoad = Math.max(0, ...Object.values(load))
      return maxLoad > 1.5
        ? `\nload average up to ${maxLoad.toFixed(1)} during the run (${os.availableParallelism()} cores): other work was running, figures are pessimistic\n`
        : ''
    },
  }
}

/** Writes `result` as JSON to `file` (creating its folder). */
export function writeResult(file, result) {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
}
