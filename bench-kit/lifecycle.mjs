// What a benchmark starts, it stops: every child process is tracked and killed on the way out, whatever
// happens (a normal end, a failure, a signal, or the run going past its deadline), and clean-ups such as
// removing a data directory run then too.
import { spawn } from 'node:child_process'

const children = new Set()
const cleanups = []

/** Tracks `child`: it is SIGKILLed by {@link killAll} unless it exited before. */
export function track(child) {
  children.add(child)
  child.on('exit', () => children.delete(child))
  return child
}

/** Runs `fn` in {@link killAll}, after the processes are gone. */
export function onCleanup(fn) {
  cleanups.push(fn)
}

/** SIGKILLs every tracked process still running, then runs the clean-ups. Safe to call more than once. */
export function killAll() {
  for (const child of children) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  for (const fn of cleanups.splice(0)) {
    try {
      fn()
    } catch {
      // best effort on the way out
    }
  }
}

/**
 * Kills everything on exit and on SIGINT/SIGTERM, and fails the run (exit 1) past `deadlineMs`, so that no
 * load generator or server outlives a benchmark. `name` prefixes the messages.
 */
export function guardRun({ name, deadlineMs }) {
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      process.stderr.write(`${name}: ${signal}, stopping\n`)
      killAll()
      process.exit(130)
    })
  }
  const watchdog = setTimeout(() => {
    process.stderr.write(`${name}: over the ${deadlineMs / 1000} s limit, killing everything\n`)
    killAll()
    process.exit(1)
  }, deadlineMs)
  watchdog.unref()
}

/**
 * Spawns `node <args>` and tracks it. With `fileLimit`, under bash with the open-file limit raised first (to
 * the hard limit when `fileLimit` is not allowed); bash execs node, so the child's pid is node's.
 */
export function spawnNode(args, options, { fileLimit } = {}) {
  if (fileLimit === undefined) return track(spawn(process.execPath, args, options))
  const raise = `ulimit -n ${fileLimit} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`
  return track(spawn('bash', ['-c', raise, process.execPath, ...args], options))
}

/** Reports a failed run with the last `lines` of each process log in `logs` (name → lines), and exits 1. */
export function exitFailed(name, failure, logs = {}, lines = 20) {
  process.stderr.write(`${name} failed: ${failure.stack ?? failure}\n`)
  for (const [source, log] of Object.entries(logs))
    if (log.length > 0) process.stderr.write(`${source} log (last lines):\n${log.slice(-lines).join('\n')}\n`)
  process.exit(1)
}
