import { describe, expect, it } from 'vitest'
import { isVaneError } from './errors.js'
import { checkJsonKeys } from './json-keys.js'

/** The pointers `checkJsonKeys` refuses `text` with; [] when it accepts it. */
function refused(text: string): string[] {
  try {
    checkJsonKeys(text, JSON.parse(text))
    return []
  } catch (error) {
    if (!isVaneError(error)) throw error
    expect(error.status).toBe(422)
    return error.issues.map((i) => i.pointer)
  }
}

describe('checkJsonKeys', () => {
  it.each([
    ['a plain object', '{"a":1,"b":{"c":[1,{"d":2}]}}'],
    ['the same key in sibling objects', '[{"a":1},{"a":2}]'],
    ['the same key at different depths', '{"a":{"a":{"a":1}}}'],
    ['string values that look like keys', '{"a":":","b":"\\":","c":"x\\\\","d":":x"}'],
    ['keys with escaped quotes', '{"a\\"":1,"a":2}'],
    ['whitespace around colons', '{ "a" \n:\t1 , "b"\r\n : 2 }'],
    ['"constructor" and "prototype" keys (ordinary attribute names)', '{"constructor":{"prototype":1}}'],
    ['scalars and arrays', '[1,"a",null,[true]]'],
    ['an empty object', '{}'],
  ])('accepts %s', (_, text) => {
    expect(refused(text)).toEqual([])
  })

  it.each([
    ['a duplicate at the top', '{"a":1,"a":2}', ['/a']],
    ['a duplicate deep down', '{"context":{"user":{"plan":"free","plan":"pro"}}}', ['/context/user/plan']],
    ['a duplicate inside an array', '{"rules":[{"id":"r1"},{"id":"r2","id":"r3"}]}', ['/rules/1/id']],
    ['a duplicate written with escapes', '{"plan":1,"\\u0070lan":2}', ['/plan']],
    ['a duplicate among string values that look like keys', '{"a":":","a":"\\":"}', ['/a']],
    ['every duplicate', '{"a":1,"a":2,"b":{"c":1,"c":2}}', ['/a', '/b/c']],
    ['a key needing pointer escapes', '{"a/b~":1,"a/b~":2}', ['/a~1b~0']],
    ['"__proto__"', '{"context":{"__proto__":{"admin":true}}}', ['/context/__proto__']],
    ['"__proto__" written with escapes', '{"\\u005f_proto__":1}', ['/__proto__']],
    ['"__proto__" in an array', '[{"__proto__":null}]', ['/0/__proto__']],
  ])('refuses %s, pointing at it', (_, text, pointers) => {
    expect(refused(text)).toEqual(pointers)
  })

  it('checks a body nested deeper than the stack allows without overflowing (accepted or a 400)', () => {
    const deep = `${'['.repeat(100_000)}{"a":1,"a":2}${']'.repeat(100_000)}`
    try {
      checkJsonKeys(deep, JSON.parse(deep))
      expect.unreachable()
    } catch (error) {
      expect(isVaneError(error) && [400, 422].includes(error.status)).toBe(true)
    }
  })
})
