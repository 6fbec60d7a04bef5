import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { renderConfigTable, TABLE_END, TABLE_START } from '../../src/config/docs.ts'
import { envSchema } from '../../src/config/schema.ts'

test('the README configuration table is the one generated from the schema', () => {
  const readme = readFileSync(resolve(import.meta.dir, '../../README.md'), 'utf8')
  const start = readme.indexOf(TABLE_START)
  const end = readme.indexOf(TABLE_END)
  expect(start).toBeGreaterThan(-1)
  expect(end).toBeGreaterThan(start)
  const inReadme = readme.slice(start + TABLE_START.length, end).trim()
  expect(inReadme).toBe(renderConfigTable())
  for (const name of Object.keys(envSchema.entries)) expect(inReadme).toContain(`\`${name}\``)
})
