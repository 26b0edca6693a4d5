/** Random secrets and their hashes, on Web Crypto so the server also runs on edge runtimes. */

const PREFIX_LENGTH = 18

export function randomSecret(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return `${prefix}${btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')}`
}

/** SHA-256, hex. Secrets carry 256 random bits, so a fast hash is enough: there is nothing to brute-force. */
export async function hashSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret))
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** Compares two strings in time that depends only on their length. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/** Enough of a secret to tell keys apart in listings (the label and a few random characters), never most of it. */
export function secretPrefix(secret: string): string {
  return secret.slice(0, Math.min(PREFIX_LENGTH, Math.floor(secret.length / 3)))
}

const encoder = new TextEncoder()

/** HMAC-SHA256 of `message` keyed with `secret` (both UTF-8), as lowercase hex. */
export async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ])
  const signature = await crypto.subtle.sign('HMAC', key, encoder.encode(message))
  return [...new Uint8Array(signature)].map((b) => b.toString(16).padStart(2, '0')).join('')
}
