import { expect, it } from 'vitest'
import { stringifyInSlices } from './json-slices.js'

it('writes the same text as JSON.stringify, long arrays included', async () => {
  const keys = Array.from({ length: 50_000 }, (_, i) => `user-"${i}"\n\u00e9`)
  const values = [
    { add: { include: keys, exclude: ['x'] }, remove: { include: [] } },
    [1, 'two', null, true, { three: [3.5, -0] }],
    keys,
    'text',
    null,
    { skipped: undefined, kept: 1 } as never,
  ]
  for (const value of values) expect(await stringifyInSlices(value)).toBe(JSON.stringify(value))
})
