// What the delivery benchmark reads about a server process from /proc (Linux): memory, CPU time, and its
// event-loop thread's time on a CPU and waiting for one.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** VmRSS of `pid`, in bytes. */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)[1]) * 1024
}

/** CPU time of `pid` (user + system, every thread), in ms. */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK
}

/**
 * The main (event-loop) thread of `pid`: time on a CPU and time runnable but waiting for one, in ms
 * (/proc/<pid>/task/<pid>/schedstat). The wait shows how much other processes held it back.
 */
export function mainThread(pid) {
  const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number)
  return { pid, onCpuMs: run / 1e6, waitingMs: wait / 1e6 }
}

/** The main thread's times since `before` (a {@link mainThread} reading). */
export function since(before) {
  const now = mainThread(before.pid)
  return { onCpuMs: now.onCpuMs - before.onCpuMs, waitingMs: now.waitingMs - before.waitingMs }
}

/** The soft and hard open-file limits of `pid`. */
export function openFileLimit(pid) {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8')
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits)
  return m === null ? undefined : { soft: m[1], hard: m[2] }
}

/** The command name of `pid`: to check it is the server itself, not a shell around it. */
export const commandOf = (pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
