/**
 * Short-lived signed tokens for OFREP event-stream URLs: a browser's
 * EventSource cannot send an Authorization header, so the URL carries a
 * token naming the key, signed with HMAC-SHA256 (Web Crypto).
 */

const encoder = new TextEncoder()

function base64url(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}

export interface StreamClaims {
  /** API key id. */
  k: string
  /** Environment. */
  e: string
  /** Expiry, epoch seconds. */
  x: number
}

export class StreamTokens {
  private readonly key: ReturnType<typeof crypto.subtle.importKey>
  /** The last token made per key and environment, with its expiry. */
  private readonly issued = new Map<string, { x: number; token: string }>()

  constructor(
    secret: string,
    private readonly ttlSeconds = 600,
    private readonly now: () => number = Date.now,
  ) {
    this.key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ])
  }

  /**
   * The token for a key and environment. Claims only change once a second (the expiry is in
   * whole seconds) and signing is deterministic, so tokens are kept for the second they were
   * made in: every bulk evaluation hands one out, and this spares an HMAC per request.
   */
  async issue(keyId: string, environment: string): Promise<string> {
    const claims: StreamClaims = { k: keyId, e: environment, x: Math.floor(this.now() / 1000) + this.ttlSeconds }
    const id = `${keyId}\u0000${environment}`
    const hit = this.issued.get(id)
    if (hit !== undefined && hit.x === claims.x) return hit.token
    const payload = base64url(encoder.encode(JSON.stringify(claims)))
    const signature = new Uint8Array(await crypto.subtle.sign('HMAC', await this.key, encoder.encode(payload)))
    const token = `${payload}.${base64url(signature)}`
    if (this.issued.size >= 10_000) this.issued.clear()
    this.issued.set(id, { x: claims.x, token })
    return token
  }

  /** The claims of a valid, unexpired token; undefined otherwise. */
  async verify(token: string): Promise<StreamClaims | undefined> {
    const [payload, signature, extra] = token.split('.')
    if (payload === undefined || signature === undefined || extra !== undefined) return undefined
    try {
      const ok = await crypto.subtle.verify('HMAC', await this.key, fromBase64url(signature), encoder.encode(payload))
      if (!ok) return undefined
      const claims = JSON.parse(new TextDecoder().decode(fromBase64url(payload))) as StreamClaims
      if (typeof claims.k !== 'string' || typeof claims.e !== 'string' || typeof claims.x !== 'number') return undefined
      return claims.x * 1000 > this.now() ? claims : undefined
    } catch {
      return undefined
    }
  }
}
