import { once } from 'node:events'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** How often the WAL is copied back into the database, in milliseconds. */
export const CHECKPOINT_INTERVAL_MS = 1000

// CommonJS, as `eval` workers run: their own connection, PASSIVE checkpoints that never wait for the writer
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.path)
db.pragma('busy_timeout = 5000')
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)') } catch {}
}
const timer = setInterval(checkpoint, workerData.intervalMs)
parentPort.on('message', () => {
  clearInterval(timer)
  checkpoint()
  db.close()
  parentPort.close()
})
`

/**
 * Checkpoints a WAL database from a worker thread with its own connection. A checkpoint copies every page
 * a transaction wrote back into the database file and syncs it: after a million-key write, hundreds of
 * milliseconds that SQLite's automatic checkpoint would spend on the writer's thread, which is the event
 * loop's. The writer turns automatic checkpoints off (`wal_autocheckpoint = 0`) and leaves them to this.
 */
export class WalCheckpointer {
  private readonly worker: Worker

  constructor(path: string, intervalMs = CHECKPOINT_INTERVAL_MS) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    this.worker = new Worker(WORKER, { eval: true, workerData: { path, driver, intervalMs } })
    // an unexpected failure leaves the WAL to grow until the next start; it must not take the process down
    this.worker.on('error', () => {})
    this.worker.unref()
  }

  /** Runs a last checkpoint and stops the worker. */
  async close(): Promise<void> {
    const exited = once(this.worker, 'exit')
    // held while closing: an unreferenced worker lets a process with nothing else left exit before it did
    this.worker.ref()
    this.worker.postMessage('close')
    await exited
  }
}
