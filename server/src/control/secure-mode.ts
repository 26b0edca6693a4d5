import { VaneError } from '../http/errors.js'
import type { ApiKeyRecord } from '../storage/repository.js'
import { constantTimeEqual, hmacHex } from './secrets.js'

/** Where the hash travels: `hash` in the client stream's body, `X-Vane-Hash` on OFREP requests. */
export type HashSource = 'body' | 'header'

const WHERE: Record<HashSource, string> = { body: 'the body\'s "hash"', header: 'the X-Vane-Hash header' }

/**
 * Secure mode: a client key created with `secureMode: true` evaluates only for contexts whose
 * `targetingKey` comes with `hex(HMAC-SHA256(secureModeSecret, targetingKey))`, computed by the
 * application's backend (`secureModeHash` in @vane/sdk-node). A browser can then not ask for another
 * user's values by changing its context. Other keys pass untouched.
 *
 * @throws VaneError `forbidden` (403) when the hash is missing or wrong, or the context has no targeting key.
 */
export async function checkSecureMode(
  key: ApiKeyRecord,
  context: Record<string, unknown>,
  hash: unknown,
  source: HashSource,
): Promise<void> {
  if (key.kind !== 'client' || !key.secureModeSecret) return
  const targetingKey = context.targetingKey
  if (typeof targetingKey !== 'string' || targetingKey === '')
    throw new VaneError(
      'forbidden',
      'this client key is in secure mode: the context needs a "targetingKey" and its hash',
    )
  if (typeof hash !== 'string' || hash === '')
    throw new VaneError(
      'forbidden',
      `this client key is in secure mode: send the targetingKey's hash in ${WHERE[source]}`,
    )
  const expected = await hmacHex(key.secureModeSecret, targetingKey)
  if (!constantTimeEqual(hash.trim().toLowerCase(), expected))
    throw new VaneError('forbidden', `the hash in ${WHERE[source]} does not match the context's targetingKey`)
}
