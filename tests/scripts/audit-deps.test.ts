/**
 * P5: `scripts/audit-deps.ts` run as a process against registries pointed to through npm's own setting
 * (`npm_config_registry`): nothing listening, one that serves no advisories (405, like the registry of the
 * development machines), and a small advisory service on loopback answering the bulk advisory endpoint as
 * npm documents it (npm docs, `npm audit` → "Audit Endpoints" → "Bulk Advisory Endpoint": POST
 * `/-/npm/v1/security/advisories/bulk` with `{ name: [versions] }`, answered with advisories per package
 * name: `id`, `url`, `title`, `severity`, `vulnerable_versions`, `cwe`, `cvss`). Package metadata requests
 * of that service answer 404 (it has none), which npm tolerates.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { freePort } from '../support/free-port.ts'

const root = resolve(import.meta.dir, '../..')
// npm caches advisories it was told about: a cache of this file's own keeps runs apart.
const npmCache = mkdtempSync(join(tmpdir(), 'olchat-npm-cache-'))
const servers: { stop(force?: boolean): void }[] = []
afterAll(() => {
  for (const server of servers) server.stop(true)
  rmSync(npmCache, { recursive: true, force: true })
})

/** A registry on loopback whose bulk advisory endpoint answers `answer`. */
function advisoryService(answer: () => Response): string {
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(request) {
      const { pathname } = new URL(request.url)
      if (request.method === 'POST' && pathname === '/-/npm/v1/security/advisories/bulk') return answer()
      return new Response('not found', { status: 404 })
    },
  })
  servers.push(server)
  return `http://127.0.0.1:${server.port}/`
}

async function auditDeps(registry: string) {
  const child = Bun.spawn([process.execPath, 'scripts/audit-deps.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      npm_config_registry: registry,
      npm_config_cache: npmCache,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [code, out] = await Promise.all([child.exited, new Response(child.stdout).text()])
  return { code, out }
}

describe('audit:deps', () => {
  test('P5: with no advisory service reachable it says so and exits 0', async () => {
    const { code, out } = await auditDeps(`http://127.0.0.1:${await freePort()}/`)
    expect(code).toBe(0)
    expect(out).toContain('advisory service unreachable')
    expect(out).toContain('ECONNREFUSED')
    expect(out).toContain('nothing was checked')
  })

  test('P5: a registry that serves no advisories (405) counts as unreachable, exit 0', async () => {
    const registry = advisoryService(
      () => new Response(null, { status: 405, headers: { allow: 'GET, HEAD' } }),
    )
    const { code, out } = await auditDeps(registry)
    expect(code).toBe(0)
    expect(out).toContain('advisory service unreachable (405 Method Not Allowed')
  })

  test('P5: known advisories are listed with severity and the command exits 1', async () => {
    const registry = advisoryService(() =>
      Response.json({
        valibot: [
          {
            id: 9001,
            url: 'https://advisories.invalid/9001',
            title: 'Schema bypass',
            severity: 'high',
            vulnerable_versions: '<99.0.0',
            cwe: ['CWE-20'],
            cvss: { score: 7.5, vectorString: null },
          },
        ],
      }),
    )
    const { code, out } = await auditDeps(registry)
    expect(code).toBe(1)
    expect(out).toContain('high     valibot: Schema bypass https://advisories.invalid/9001')
    expect(out).toMatch(/audit:deps: \d+ vulnerable dependencies \(\d+ high\)/)
  })

  test('P5: a clean answer reports no known vulnerabilities and exits 0', async () => {
    const { code, out } = await auditDeps(advisoryService(() => Response.json({})))
    expect(code).toBe(0)
    expect(out).toMatch(/audit:deps: no known vulnerabilities in \d+ dependencies/)
  })

  test('P5: every dependency is pinned to an exact version, and the lock file holds that version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'))
    for (const group of ['dependencies', 'devDependencies'] as const) {
      for (const [name, version] of Object.entries(pkg[group] ?? {}) as [string, string][]) {
        expect({ name, version }).toEqual({ name, version: expect.stringMatching(/^\d+\.\d+\.\d+$/) })
        expect({ name, locked: lock.packages[`node_modules/${name}`]?.version }).toEqual({
          name,
          locked: version,
        })
      }
    }
  })
})
