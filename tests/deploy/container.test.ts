/**
 * No container engine runs here, so the Dockerfile and compose file are checked for what can be checked
 * without one: files they reference exist, variables they set are ones Olchat knows and accepts, and the
 * image starts Olchat the way `npm start` does.
 */
import { describe, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import pkg from '../../package.json' with { type: 'json' }
import { loadConfig } from '../../src/config/load.ts'
import { envSchema } from '../../src/config/schema.ts'

const root = resolve(import.meta.dir, '../..')
const dockerfile = readFileSync(resolve(root, 'Dockerfile'), 'utf8')
const compose = Bun.YAML.parse(readFileSync(resolve(root, 'compose.yaml'), 'utf8')) as {
  services: Record<string, { build?: string; environment?: Record<string, string>; depends_on?: object }>
}

describe('Dockerfile', () => {
  test('every COPY source exists in the repository', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/))
    expect(sources.length).toBeGreaterThan(0)
    for (const source of sources) expect(existsSync(resolve(root, source))).toBe(true)
  })

  test('runs as a non-root user, has a health check, and starts like npm start', () => {
    expect(dockerfile).toMatch(/^USER (?!root)\w+/m)
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/readyz/m)
    const cmd = JSON.parse(/^CMD (\[.+\])$/m.exec(dockerfile)![1]!) as string[]
    expect(cmd.join(' ')).toBe(pkg.scripts.start)
  })

  test('the Bun image matches the bun version the lock file installs', () => {
    expect(dockerfile).toContain(`FROM oven/bun:${pkg.dependencies.bun}-`)
  })

  test('installs production dependencies from the lock file', () => {
    expect(dockerfile).toContain('npm ci --omit=dev')
  })
})

describe('compose.yaml', () => {
  const olchat = compose.services.olchat!

  test('runs Olchat with PostgreSQL, Redis and an S3-compatible store', () => {
    expect(olchat.build).toBe('.')
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'redis', 'minio']))
    expect(Object.keys(olchat.depends_on ?? {})).toEqual(expect.arrayContaining(['postgres', 'redis']))
  })

  test('sets only variables Olchat knows, with values its configuration accepts', () => {
    const env = { ...olchat.environment }
    for (const name of Object.keys(env)) expect(Object.keys(envSchema.entries)).toContain(name)
    // Resolve the ${VAR:?…} / ${VAR:-default} placeholders the way compose would with a key provided.
    env.OLCHAT_ENCRYPTION_KEYS = `k1:${Buffer.alloc(32, 1).toString('base64')}`
    env.OLCHAT_PUBLIC_URL = 'http://localhost:8080'
    const config = loadConfig(env)
    expect(config.database.kind).toBe('postgres')
    expect(config.cache.kind).toBe('redis')
    expect(config.files).toMatchObject({ kind: 's3', bucket: 'olchat-transfer', forcePathStyle: true })
  })
})
