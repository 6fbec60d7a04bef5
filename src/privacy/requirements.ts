/**
 * @module Which tests prove which privacy requirement: the IDs come from the project's own list
 * (`docs/privacy-requirements.md`, the first cell of each table row), the proofs from the names of the
 * tests (`test('R3: …')`, `test('S4, R8: …')`, `describe('P3: …')`, ranges like `I1–I6`). Skipped and todo
 * tests prove nothing and are not counted.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

export interface TestRef {
  file: string
  line: number
  name: string
}

export interface RequirementCoverage {
  id: string
  tests: TestRef[]
}

const ID = /^[A-Z]\d{1,2}$/

/** IDs in document order, from rows like `| R3 | … |`. @throws Error when the document lists none. */
export function parseRequirementIds(markdown: string): string[] {
  const ids: string[] = []
  for (const line of markdown.split('\n')) {
    const cell = /^\|\s*([^|]+?)\s*\|/.exec(line)?.[1]
    if (cell && ID.test(cell) && !ids.includes(cell)) ids.push(cell)
  }
  if (ids.length === 0) throw new Error('no requirement IDs found (expected table rows like "| R3 | … |")')
  return ids
}

/** `I1–I6` → I1…I6; other separators list single IDs. */
function expandIds(prefix: string): string[] {
  const ids: string[] = []
  for (const part of prefix.split(/\s*[,/&]\s*|\s+and\s+/)) {
    const range = /^([A-Z])(\d+)\s*[–-]\s*([A-Z])(\d+)$/.exec(part.trim())
    if (range && range[1] === range[3]) {
      for (let n = Number(range[2]); n <= Number(range[4]); n++) ids.push(`${range[1]}${n}`)
    } else if (ID.test(part.trim())) {
      ids.push(part.trim())
    }
  }
  return ids
}

/** The IDs a test name starts with, before its first colon; none when it does not start with IDs. */
export function idsOfName(name: string): string[] {
  const match = /^\s*((?:[A-Z]\d{1,2})(?:\s*(?:[,/&–-]|and)\s*[A-Z]\d{1,2})*)\s*:/.exec(name)
  return match ? expandIds(match[1]!) : []
}

// test / it / describe with optional modifiers (`.each([...])`, `.skipIf(x)`), then the name literal.
const CALL =
  /\b(test|it|describe)((?:\.\w+(?:\((?:[^()]|\([^()]*\))*\))?)*)\(\s*(?:'((?:\\.|[^'\\\n])*)'|"((?:\\.|[^"\\\n])*)"|`((?:\\.|[^`\\])*)`)/g

/** Named tests and describes of one file, with their line numbers. */
export function namedTests(source: string, file: string): TestRef[] {
  const found: TestRef[] = []
  for (const match of source.matchAll(CALL)) {
    const modifiers = match[2] ?? ''
    if (/\.(skip|todo)\b/.test(modifiers)) continue
    const name = match[3] ?? match[4] ?? match[5] ?? ''
    const line = source.slice(0, match.index).split('\n').length
    found.push({ file, line, name })
  }
  return found
}

function testFiles(dir: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) files.push(...testFiles(path))
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) files.push(path)
  }
  return files.sort()
}

/** Every requirement with the tests naming it, in the document's order. */
export function requirementCoverage(ids: string[], testsDir: string, root = testsDir): RequirementCoverage[] {
  const byId = new Map(ids.map((id) => [id, [] as TestRef[]]))
  for (const path of testFiles(testsDir)) {
    for (const ref of namedTests(readFileSync(path, 'utf8'), relative(root, path))) {
      for (const id of new Set(idsOfName(ref.name))) byId.get(id)?.push(ref)
    }
  }
  return ids.map((id) => ({ id, tests: byId.get(id)! }))
}

/** The report the command prints: one block per ID, then the verdict. */
export function formatCoverage(coverage: RequirementCoverage[]): { text: string; missing: string[] } {
  const missing = coverage.filter((c) => c.tests.length === 0).map((c) => c.id)
  const lines: string[] = []
  for (const { id, tests } of coverage) {
    lines.push(`${id}  ${tests.length === 0 ? 'NO TEST' : `${tests.length} test(s)`}`)
    for (const test of tests) lines.push(`    ${test.file}:${test.line}  ${test.name}`)
  }
  lines.push(
    missing.length === 0
      ? `check:privacy: all ${coverage.length} requirements have tests`
      : `check:privacy: no test names ${missing.join(', ')}`,
  )
  return { text: lines.join('\n'), missing }
}
