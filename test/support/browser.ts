/**
 * Headless Chromium and the loopback pages it loads, for the browser suites.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Browser, chromium } from 'playwright-core'

/** Debian's chromium; another binary with `VANE_TEST_CHROMIUM`. */
const CHROMIUM = process.env.VANE_TEST_CHROMIUM ?? '/usr/bin/chromium'
// without the background-networking flags Chromium keeps trying hosts this machine cannot reach
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 })
}

/** A file a static page server answers with, or undefined for 404. */
export type PageFile = { body: string | Buffer; type: string } | undefined

/** A static server on 127.0.0.1; each one is its own origin. */
export async function servePages(files: (path: string) => PageFile): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const file = files(new URL(req.url ?? '/', 'http://x').pathname)
    if (file === undefined) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'Content-Type': file.type, 'Cache-Control': 'no-store' }).end(file.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

export const closePages = (server: Server | undefined) =>
  new Promise<void>((resolve) => {
    if (server === undefined) return resolve()
    server.close(() => resolve())
    server.closeAllConnections()
  })

export const HTML = 'text/html; charset=utf-8'
export const JS = 'text/javascript; charset=utf-8'
