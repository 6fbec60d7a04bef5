/**
 * `npm run check:privacy`: every requirement of docs/privacy-requirements.md with the tests that name it;
 * exits 1 naming each requirement without a test (2 on bad arguments or an unreadable document).
 *   bun scripts/check-privacy.ts [--docs <file>] [--tests <dir>]
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import * as v from 'valibot'
import { formatCoverage, parseRequirementIds, requirementCoverage } from '../src/privacy/requirements.ts'

const root = join(import.meta.dir, '..')
const Args = v.object({
  docs: v.optional(v.pipe(v.string(), v.nonEmpty()), join(root, 'docs', 'privacy-requirements.md')),
  tests: v.optional(v.pipe(v.string(), v.nonEmpty()), join(root, 'tests')),
})

let args: v.InferOutput<typeof Args>
let ids: string[]
try {
  const { values } = parseArgs({ options: { docs: { type: 'string' }, tests: { type: 'string' } } })
  args = v.parse(Args, values)
  ids = parseRequirementIds(readFileSync(args.docs, 'utf8'))
} catch (error) {
  console.error(`check:privacy: ${(error as Error).message}`)
  process.exit(2)
}

const testsDir = resolve(args.tests)
const { text, missing } = formatCoverage(requirementCoverage(ids, testsDir, resolve(testsDir, '..')))
console.log(text)
process.exit(missing.length === 0 ? 0 : 1)
