import { compileSnapshot, type Evaluator } from '@vane/engine'
import { parseSnapshot } from '@vane/engine/schema'
import { describe, expect, it } from 'vitest'
import { actualOf, contextOf, expectedOf, loadSpec, SPEC_FILE_PATTERN } from '../spec/load.js'

const files = loadSpec()

describe('conformance spec', () => {
  it('has at least 150 cases', () => {
    const total = files.reduce((n, f) => n + f.cases.length, 0)
    expect(total).toBeGreaterThanOrEqual(150)
  })

  it.each(files.map((f) => [f.file, f] as const))('%s: file name, section and unique case names', (file, spec) => {
    const match = SPEC_FILE_PATTERN.exec(file)
    expect(match, `${file} should be named NN-section.json`).not.toBeNull()
    expect(spec.section).toBe(match![2])
    const names = spec.cases.map((c) => c.name)
    const duplicates = names.filter((name, i) => names.indexOf(name) !== i)
    expect(duplicates).toEqual([])
  })

  it.each(files.map((f) => [f.file, f] as const))('%s: every snapshot passes parseSnapshot', (_file, spec) => {
    const snapshots = [spec.snapshot, ...spec.cases.flatMap((c) => (c.snapshot === undefined ? [] : [c.snapshot]))]
    for (const snapshot of snapshots) {
      const parsed = parseSnapshot(snapshot)
      expect(parsed.success ? [] : parsed.issues).toEqual([])
    }
  })
})

for (const spec of files) {
  describe(`${spec.file}: ${spec.section}`, () => {
    let shared: Evaluator | undefined
    for (const c of spec.cases) {
      it(c.name, () => {
        shared ??= compileSnapshot(spec.snapshot)
        const evaluator = c.snapshot === undefined ? shared : compileSnapshot(c.snapshot)
        const result = evaluator.evaluate(c.flag, contextOf(c), c.defaultValue)
        expect(actualOf(result, c.expected)).toStrictEqual(expectedOf(c.expected))
      })
    }
  })
}
