#!/usr/bin/env node
// Regenerates src/vectors/bucketing.json, the golden bucketing vectors.
//
//   node engine/scripts/gen-bucketing-vectors.mjs          # writes the file
//   node engine/scripts/gen-bucketing-vectors.mjs --check  # fails if the file is stale
//
// Hashes come from the independent `murmurhash3js-revisited` (a port of the
// reference C++ MurmurHash3_x86_32), fed the UTF-8 bytes that `TextEncoder`
// produces, never from the engine's own `murmur3`: the vectors pin the engine
// to the algorithm, not to itself. Everything is deterministic (a seeded
// PRNG, no Math.random), so the output is byte-identical on every run.

import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import murmurHash3 from 'murmurhash3js-revisited'

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'vectors', 'bucketing.json')
const BUCKETS = 100_000
const encoder = new TextEncoder()

/** The independent hash of `salt + "/" + value`, and its bucket. */
function vector(salt, value) {
  const hash = murmurHash3.x86.hash32(encoder.encode(`${salt}/${value}`), 0)
  if (!Number.isInteger(hash)) throw new Error(`murmurhash3js-revisited returned ${hash}`)
  return { salt, value, hash, bucket: hash % BUCKETS }
}

/** mulberry32: a tiny seeded PRNG with a 2^32 period, plenty for test data. */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = prng(0x5eed_b0c7)
const int = (min, max) => min + Math.floor(random() * (max - min + 1))
const pick = (list) => list[int(0, list.length - 1)]

// Code point pools by UTF-8 width, with the width boundaries.
const ASCII = () => String.fromCharCode(int(0x20, 0x7e))
const CONTROL = () => pick(['\0', '\t', '\n', '\r', '\x1b', '\x7f'])
const TWO_BYTE = () => String.fromCodePoint(pick([0x80, 0x7ff, int(0x80, 0x7ff), int(0xc0, 0x17f), int(0x391, 0x3c9)]))
const THREE_BYTE = () =>
  String.fromCodePoint(pick([0x800, 0xffff, 0xfffd, 0xd7ff, 0xe000, int(0x800, 0xd7ff), int(0x4e00, 0x9fff)]))
const FOUR_BYTE = () => String.fromCodePoint(pick([0x10000, 0x10ffff, int(0x10000, 0x10ffff), int(0x1f300, 0x1faff)]))
const COMBINING = () => pick(['e\u0301', 'a\u0308', 'n\u0303', '\u0301', 'o\u0328\u0301', 'Å', 'A\u030a'])
const EMOJI = () => pick(['😀', '👍🏽', '🏳️‍🌈', '👨‍👩‍👧‍👦', '🇳🇱', '❤️', '🧑‍💻', '#️⃣'])
const LONE = () => pick(['\ud800', '\udbff', '\udc00', '\udfff', String.fromCharCode(int(0xd800, 0xdfff))])
const ANY = () => pick([ASCII, ASCII, ASCII, CONTROL, TWO_BYTE, THREE_BYTE, FOUR_BYTE, COMBINING, EMOJI, LONE])()

/** A string of exactly `length` UTF-16 code units drawn from `unit` (which may return 1 or 2 units). */
function ofUnits(length, unit) {
  let s = ''
  while (s.length < length) {
    const next = unit()
    s += s.length + next.length <= length ? next : ASCII()
  }
  return s
}
/** A string of `count` pieces drawn from `piece`. */
const ofPieces = (count, piece) => Array.from({ length: count }, piece).join('')

const SALTS = ['', 'a', 'ab', 'abc', 'new-checkout', 'dark-mode', 'canary', 'beta.users', 'x'.repeat(64)]
const vectors = []
const add = (salt, value) => vectors.push(vector(salt, value))

// 1. every tail: values of 0..16 ASCII characters under salts of 0..3 bytes and longer ones,
//    so that `salt/value` ends in 0, 1, 2 and 3 leftover bytes many times over
for (let length = 0; length <= 16; length++) {
  for (const salt of SALTS) add(salt, ofUnits(length, ASCII))
  add(ofUnits(int(0, 8), ASCII), ofUnits(length, ASCII))
}
// 2. empty strings and the smallest inputs
for (const [salt, value] of [
  ['', ''],
  ['', '/'],
  ['/', ''],
  ['', ' '],
  ['', '0'],
  ['0', ''],
  ['\0', '\0'],
  ['', '\ufffd'],
  ['', '\ud800'],
])
  add(salt, value)
// 3. realistic keys: user ids, UUID-like ids, e-mail addresses and numbers in JavaScript decimal form
for (let i = 0; i < 120; i++) add(pick(SALTS.slice(4)), `user-${i}`)
for (let i = 0; i < 40; i++)
  add(
    'new-checkout',
    Array.from({ length: 32 }, () => int(0, 15).toString(16))
      .join('')
      .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-'),
  )
for (let i = 0; i < 20; i++)
  add('dark-mode', `${ofUnits(int(1, 12), () => pick('abcdefghijklmnopqrstuvwxyz._'.split('')))}@example.com`)
for (const n of [
  0,
  -0,
  1,
  -1,
  42,
  0.1,
  1.5,
  -2.75,
  1e21,
  1e-7,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_VALUE,
  123456789,
])
  add('score', String(n))
// 4. multi-byte UTF-8: 2-, 3- and 4-byte code points of every length 0..16 units, in value and salt
for (const [name, unit] of [
  ['two', TWO_BYTE],
  ['three', THREE_BYTE],
  ['four', FOUR_BYTE],
]) {
  for (let length = 0; length <= 16; length++) {
    add('new-checkout', ofUnits(length, unit))
    add(ofUnits(length, unit), `user-${name}-${length}`)
    add(ofUnits(int(0, 5), ANY), ofUnits(length, unit))
  }
}
// 5. emoji (surrogate pairs, ZWJ sequences, skin tones, flags) and combining marks
for (let i = 0; i < 60; i++) add(pick(SALTS), ofPieces(int(1, 6), EMOJI))
for (let i = 0; i < 60; i++) add(pick(SALTS), ofPieces(int(1, 6), COMBINING))
for (const value of [
  'é',
  'e\u0301',
  'Å',
  'A\u030a',
  'ﬁ',
  'İ',
  'ß',
  'Ω',
  'Ω',
  '€',
  '日本語',
  '한국어',
  'עברית',
  'العربية',
])
  add('i18n', value)
// 6. lone surrogates, which UTF-8 encodes as U+FFFD (EF BF BD) like TextEncoder
for (const value of [
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  'a\ud800',
  '\ud800a',
  'a\udc00b',
  '\ud83d',
  '\ude00',
  '\ude00\ud83d', // a pair in the wrong order is two lone surrogates
  '\ud83d\ud83d\ude00', // a lone high surrogate before a valid pair
  '\ud83d\ude00\ude00', // a valid pair before a lone low surrogate
  '\ud800\ud800',
  '\udc00\udc00',
  'x\ud800\udc00y',
])
  for (const salt of ['', 'a', 'new-checkout']) add(salt, value)
for (let i = 0; i < 60; i++)
  add(
    pick([...SALTS, '\ud800', 'a\udfff']),
    ofPieces(int(1, 12), () => pick([LONE, ANY])()),
  )
// 7. long strings (> 1 KB of UTF-8), ASCII and mixed
for (let i = 0; i < 24; i++) add(pick(SALTS), ofUnits(int(1025, 4100), ASCII))
for (let i = 0; i < 24; i++) add(pick(SALTS), ofPieces(int(400, 1500), ANY))
add('x'.repeat(256), 'y'.repeat(2048))
// 8. random mixtures of everything, every length 0..40
for (let i = 0; i < 500; i++) add(ofPieces(int(0, 6), ANY), ofPieces(i % 41, ANY))

// no duplicates: the same input twice would only hide a missing case
const seen = new Set()
const unique = vectors.filter((v) => {
  const id = JSON.stringify([v.salt, v.value])
  if (seen.has(id)) return false
  seen.add(id)
  return true
})

// one vector per line, so that a change shows as a readable diff
const lines = unique.map((v) => `    ${JSON.stringify(v)}`)
const text = `{
  "description": "MurmurHash3 x86_32 (seed 0) of the UTF-8 bytes of salt + \\"/\\" + value, and bucket = hash mod 100000. Lone surrogates encode as U+FFFD. Generated by engine/scripts/gen-bucketing-vectors.mjs with murmurhash3js-revisited; do not edit by hand.",
  "count": ${unique.length},
  "vectors": [
${lines.join(',\n')}
  ]
}
`

if (process.argv.includes('--check')) {
  if (readFileSync(OUT, 'utf8') !== text) {
    console.error(`${OUT} is stale: run node engine/scripts/gen-bucketing-vectors.mjs`)
    process.exit(1)
  }
  console.log(`${OUT} is up to date (${unique.length} vectors)`)
} else {
  writeFileSync(OUT, text)
  console.log(`wrote ${unique.length} vectors to ${OUT}`)
}
