/**
 * `vane serve` checks every environment variable before it opens anything: a bad value stops it with one line
 * per variable on stderr and exit code 1, instead of a server that quietly ignores the setting.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ADMIN_SECRET, SERVER_CLI } from '../support/server-process.js'

const dataDir = mkdtempSync(join(tmpdir(), 'vane-settings-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

/** Runs `vane serve` with `env` until it exits (a run that starts listening is killed after its first line). */
function serve(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER_CLI, 'serve'], {
      env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', VANE_DATA_DIR: dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      if (stdout.includes('vane listening')) child.kill('SIGTERM')
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.once('error', reject)
    child.once('exit', (code) => resolve({ code, stderr, stdout }))
  })
}

describe('vane serve with bad settings', () => {
  it.each([
    ['VANE_RATE_LIMIT', 'fast', /VANE_RATE_LIMIT is "fast", but it must be a number of admin requests per second/],
    ['VANE_RATE_LIMIT', '0', /VANE_RATE_LIMIT is "0", but it must be .*above 0/],
    ['PORT', 'eighty', /PORT is "eighty", but it must be a whole number from 0/],
    [
      'VANE_PUBLIC_URL',
      'flags.example.com',
      /VANE_PUBLIC_URL is "flags.example.com", but it must be an absolute http\(s\) URL/,
    ],
    ['LOG_LEVEL', 'verbose', /LOG_LEVEL is "verbose", but it must be one of fatal, error/],
  ])(
    '%s=%s: exits 1 before listening, naming the variable, the value and what it accepts',
    async (name, value, message) => {
      const run = await serve({ [name]: value })
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^vane: invalid configuration:\n/)
      expect(run.stderr).toMatch(message)
      expect(run.stdout).not.toContain('vane listening')
    },
  )

  it('names every bad variable in one run and never prints a secret', async () => {
    const run = await serve({ VANE_HEARTBEAT_MS: '-1', VANE_BOOTSTRAP_ADMIN_KEY: 'abc', VANE_STREAM_SECRET: 'hunter2' })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/VANE_HEARTBEAT_MS is "-1"/)
    expect(run.stderr).toMatch(/VANE_BOOTSTRAP_ADMIN_KEY is too weak/)
    expect(run.stderr).toMatch(/VANE_STREAM_SECRET is a value of 7 characters \(not shown\)/)
    expect(run.stderr).not.toMatch(/hunter2|"abc"/)
  })

  it('starts with good settings (the same harness, so the failures above are the settings)', async () => {
    const run = await serve({ VANE_RATE_LIMIT: '50', VANE_BOOTSTRAP_ADMIN_KEY: ADMIN_SECRET })
    expect(run.stdout).toContain('vane listening')
    expect(run.code).toBe(0)
  })
})
