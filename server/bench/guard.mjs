// Loopback-only network guard, imported first by every benchmark process: a socket
// connection or DNS lookup for a host that is not loopback throws instead of leaving the machine.
import dns from 'node:dns'
import net from 'node:net'

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|::1|::ffff:127(?:\.\d{1,3}){3}|\[::1\])$/i

function check(host) {
  const name = host === undefined || host === null || host === '' ? 'localhost' : String(host)
  if (!LOOPBACK.test(name)) throw new Error(`bench network guard: refusing to contact "${name}" (loopback only)`)
}

const connect = net.Socket.prototype.connect
net.Socket.prototype.connect = function guardedConnect(...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0]
  if (typeof first === 'object' && first !== null) {
    if (first.path === undefined) check(first.host)
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    check(typeof args[1] === 'string' ? args[1] : undefined)
  }
  return connect.apply(this, args)
}

const lookup = dns.lookup
dns.lookup = function guardedLookup(hostname, ...rest) {
  check(hostname)
  return lookup.call(this, hostname, ...rest)
}
