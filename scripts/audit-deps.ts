/**
 * `npm run audit:deps` (PRIVACY P5): lists dependencies with known vulnerabilities, asking the registry's
 * advisory service through `npm audit --json`. When no advisory service answers (offline, a mirror that
 * serves none — the registry of the development machines answers 405 — or a timeout) it says so plainly
 * and exits 0: nothing was checked, and CI must not depend on a service that is not there.
 *
 *   bun scripts/audit-deps.ts            exit 0: none known, or service unreachable; 1: vulnerable ones found
 *
 * The registry is npm's own setting (`.npmrc`, `npm_config_registry`); `OLCHAT_AUDIT_REGISTRY` overrides it.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import * as v from 'valibot'

const root = join(import.meta.dir, '..')
const TIMEOUT_MS = 120_000

const Advisory = v.object({
  title: v.optional(v.string()),
  url: v.optional(v.string()),
  range: v.optional(v.string()),
})
const Report = v.object({
  vulnerabilities: v.record(
    v.string(),
    v.object({
      name: v.string(),
      severity: v.string(),
      isDirect: v.optional(v.boolean()),
      via: v.array(v.union([v.string(), Advisory])),
      fixAvailable: v.optional(v.unknown()),
    }),
  ),
  metadata: v.object({
    vulnerabilities: v.record(v.string(), v.number()),
    dependencies: v.optional(v.object({ total: v.optional(v.number()) })),
  }),
})
const Failure = v.object({ message: v.optional(v.string()), error: v.optional(v.unknown()) })

function runNpmAudit(): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const registry = process.env.OLCHAT_AUDIT_REGISTRY
  const args = ['audit', '--json', ...(registry ? [`--registry=${registry}`] : [])]
  return new Promise((resolve) => {
    const child = spawn('npm', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text
    })
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text
    })
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, TIMEOUT_MS)
    child.on('error', (error) => {
      clearTimeout(timer)
      resolve({ code: null, stdout, stderr: `${stderr}${error.message}`, timedOut })
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, timedOut })
    })
  })
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function unreachable(reason: string): never {
  console.log(
    `audit:deps: advisory service unreachable (${reason.trim().split('\n')[0]}) — nothing was checked`,
  )
  process.exit(0)
}

const result = await runNpmAudit()
if (result.timedOut) unreachable(`no answer within ${TIMEOUT_MS / 1000} s`)
const json = parseJson(result.stdout)
const report = v.safeParse(Report, json)
if (!report.success) {
  const failure = v.safeParse(Failure, json)
  const reason =
    (failure.success && failure.output.message) || result.stderr || `npm audit exited ${result.code}`
  unreachable(reason)
}

const { vulnerabilities, metadata } = report.output
const found = Object.values(vulnerabilities).sort((a, b) => a.name.localeCompare(b.name))
for (const item of found) {
  const advisories = item.via.map((via) =>
    typeof via === 'string' ? `via ${via}` : `${via.title ?? 'advisory'} ${via.url ?? ''}`.trim(),
  )
  console.log(
    `${item.severity.padEnd(8)} ${item.name}${item.isDirect ? '' : ' (indirect)'}: ${advisories.join('; ')}`,
  )
}
const counts = Object.entries(metadata.vulnerabilities)
  .filter(([severity, n]) => severity !== 'total' && n > 0)
  .map(([severity, n]) => `${n} ${severity}`)
const checked = metadata.dependencies?.total
console.log(
  found.length === 0
    ? `audit:deps: no known vulnerabilities${checked === undefined ? '' : ` in ${checked} dependencies`}`
    : `audit:deps: ${found.length} vulnerable dependencies (${counts.join(', ')})`,
)
process.exit(found.length === 0 ? 0 : 1)
