/**
 * Secure mode, the application's half. A client key created with `secureMode: true` evaluates only for
 * contexts whose `targetingKey` comes with this hash, so a browser cannot ask for another user's values
 * by editing its context. Compute it on your backend, where the key's `secureModeSecret` stays, and hand
 * it to the page with the user's session; the browser sends it as `hash` (client stream) or in the
 * `X-Vane-Hash` header (OFREP).
 *
 * Web Crypto only, so it runs on Node 20+, Deno, Bun and edge runtimes alike.
 */

const encoder = new TextEncoder()

/**
 * `hex(HMAC-SHA256(secret, targetingKey))`, lowercase, both strings as UTF-8.
 *
 * @example
 * const hash = await secureModeHash(process.env.VANE_SECURE_MODE_SECRET!, user.id)
 * res.render('app', { vane: { targetingKey: user.id, hash } })
 */
export async function secureModeHash(secret: string, targetingKey: string): Promise<string> {
  if (typeof secret !== 'string' || secret === '')
    throw new TypeError("secureModeHash needs the key's secureModeSecret")
  if (typeof targetingKey !== 'string')
    throw new TypeError("secureModeHash needs the context's targetingKey (a string)")
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ])
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(targetingKey)))
  let hex = ''
  for (const byte of signature) hex += byte.toString(16).padStart(2, '0')
  return hex
}
