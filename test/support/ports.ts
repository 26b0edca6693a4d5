/**
 * @module test/support/ports
 * Loopback ports for the suites.
 */
import { once } from 'node:events'
import { createServer } from 'node:net'

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now (bound, then released): for a server that must
 * come back on the same port, or for an address that refuses connections.
 */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}
