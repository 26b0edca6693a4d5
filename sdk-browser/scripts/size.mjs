// Size budget of the main entry, min+gzip, checked in CI with the tests. The
// entry and every chunk it imports count, as a page loading it would fetch them.
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const BUDGET = 6 * 1024
const dist = new URL('../dist/', import.meta.url)

function closure(file, seen = new Set()) {
  if (seen.has(file)) return seen
  seen.add(file)
  const text = readFileSync(new URL(file, dist), 'utf8')
  for (const [, spec] of text.matchAll(/(?:import|export)[^'"]*?from\s*["'](\.\/[^"']+)["']/g))
    closure(spec.slice(2), seen)
  return seen
}

const files = [...closure('index.js')]
const gz = gzipSync(files.map((f) => readFileSync(new URL(f, dist))).join('\n'), { level: 9 }).length
console.log(`@vane/sdk-browser main entry (${files.join(' + ')}): ${gz} bytes min+gzip, budget ${BUDGET}`)
if (gz > BUDGET) {
  console.error('over the size budget')
  process.exit(1)
}
