import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { idsOfName, namedTests, parseRequirementIds } from '../../src/privacy/requirements.ts'

const root = join(import.meta.dir, '..', '..')
// Fixture sources spell the call names through these, so the real scan of this file does not credit them.
const [T, D, I] = ['test', 'describe', 'it']
const bun = process.execPath

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = Bun.spawn([bun, join(root, 'scripts', 'check-privacy.ts'), ...args], {
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ])
  return { code, out, err }
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'olchat-check-privacy-'))
  await writeFile(
    join(dir, 'requirements.md'),
    [
      '# Fixture',
      '',
      '| ID | Requirement |',
      '| --- | --- |',
      '| R1 | one |',
      '| R2 | two |',
      '| P9 | three |',
    ].join('\n'),
  )
  await mkdir(join(dir, 'tests', 'nested'), { recursive: true })
  await writeFile(
    join(dir, 'tests', 'a.test.ts'),
    [
      `${T}('R1: proven here', () => {})`,
      `${T}.todo('P9: a todo proves nothing')`,
      `${T}.skip('P9: nor does a skipped test', () => {})`,
    ].join('\n'),
  )
  await writeFile(
    join(dir, 'tests', 'nested', 'b.test.ts'),
    `${D}('R1/R2: grouped', () => {\n  ${T}.skipIf(process.env.X === '1')(\n    \`R2: conditional \${1}\`, () => {})\n})`,
  )
  // Not a test file: ignored.
  await writeFile(join(dir, 'tests', 'helper.ts'), `${T}('P9: not a test file', () => {})`)
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('check:privacy', () => {
  test('a requirement without a test fails the command, naming it; the others list their tests', async () => {
    const result = await run('--docs', join(dir, 'requirements.md'), '--tests', join(dir, 'tests'))
    expect(result.code).toBe(1)
    expect(result.out).toContain('P9  NO TEST')
    expect(result.out).toContain('check:privacy: no test names P9')
    expect(result.out).toContain('R1  2 test(s)')
    expect(result.out).toContain('tests/a.test.ts:1  R1: proven here')
    expect(result.out).toContain('tests/nested/b.test.ts:1  R1/R2: grouped')
    expect(result.out).toContain('R2  2 test(s)')
    // A template literal name is reported as written, placeholder included.
    expect(result.out).toContain(`tests/nested/b.test.ts:2  R2: conditional ${'$'}{1}`)
  })

  test('every requirement with a test: exit 0', async () => {
    await writeFile(join(dir, 'tests', 'c.test.ts'), `${T}("P9: now proven", () => {})`)
    const result = await run('--docs', join(dir, 'requirements.md'), '--tests', join(dir, 'tests'))
    expect(result.code).toBe(0)
    expect(result.out).toContain('check:privacy: all 3 requirements have tests')
  })

  test('an unreadable document or a document without IDs stops with exit 2', async () => {
    expect((await run('--docs', join(dir, 'missing.md'))).code).toBe(2)
    await writeFile(join(dir, 'empty.md'), '# nothing here\n')
    const empty = await run('--docs', join(dir, 'empty.md'), '--tests', join(dir, 'tests'))
    expect(empty.code).toBe(2)
    expect(empty.err).toContain('no requirement IDs found')
    expect((await run('--unknown')).code).toBe(2)
  })

  test('the project list carries every ID of the product brief, in its own words', async () => {
    const ids = parseRequirementIds(await readFile(join(root, 'docs', 'privacy-requirements.md'), 'utf8'))
    const groups: [string, number][] = [
      ['I', 6],
      ['S', 5],
      ['R', 8],
      ['D', 5],
      ['P', 5],
    ]
    const all = groups.flatMap(([letter, n]) => Array.from({ length: n }, (_, i) => `${letter}${i + 1}`))
    expect(ids).toEqual(all)
    // The real run lists each of them (whether all have tests yet is the lead's verdict, not this test's).
    const real = await run()
    for (const id of all) expect(real.out).toMatch(new RegExp(`^${id}  `, 'm'))
  })

  test('names: leading IDs before the colon, lists and ranges; nothing else counts', () => {
    expect(idsOfName('S4, R8: sealed bodies')).toEqual(['S4', 'R8'])
    expect(idsOfName('S4/R8: x')).toEqual(['S4', 'R8'])
    expect(idsOfName('I1–I3: x')).toEqual(['I1', 'I2', 'I3'])
    expect(idsOfName('D2 and D3: x')).toEqual(['D2', 'D3'])
    expect(idsOfName('S3 settings that only make sense together')).toEqual([])
    expect(idsOfName('the R3 rule: x')).toEqual([])
    const source = `${I}("P3: it counts", () => {})\n${D}.each([1, 2])('R7: each', () => {})`
    expect(namedTests(source, 'f.test.ts').map((t) => [t.line, t.name])).toEqual([
      [1, 'P3: it counts'],
      [2, 'R7: each'],
    ])
  })
})
