// Size budget of the main entry, min+gzip, checked in CI with the tests (src/size.test.ts runs this script on
// the built dist). The entry and every chunk it imports count, as a page loading it would fetch them.
//
//   node scripts/size.mjs                         check dist/index.js against the budget
//   node scripts/size.mjs --json                  the same, as {entry, files, bytes, budget} on stdout
//   node scripts/size.mjs --entry openfeature.js  measure another entry (reported, still held to the budget)
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const BUDGET = 6 * 1024
const dist = new URL('../dist/', import.meta.url)
const args = process.argv.slice(2)
const entry = args.includes('--entry') ? args[args.indexOf('--entry') + 1] : 'index.js'

function closure(file, seen = new Set()) {
  if (seen.has(file)) return seen
  seen.add(file)
  const text = readFileSync(new URL(file, dist), 'utf8')
  for (const [, spec] of text.matchAll(/(?:import|export)[^'"]*?from\s*["'](\.\/[^"']+)["']/g))
    closure(spec.slice(2), seen)
  return seen
}

const files = [...closure(entry)]
const gz = gzipSync(files.map((f) => readFileSync(new URL(f, dist))).join('\n'), { level: 9 }).length
if (args.includes('--json')) console.log(JSON.stringify({ entry, files, bytes: gz, budget: BUDGET }))
else console.log(`@vane/sdk-browser ${entry} (${files.join(' + ')}): ${gz} bytes min+gzip, budget ${BUDGET}`)
if (gz > BUDGET) {
  console.error('over the size budget')
  process.exit(1)
}
