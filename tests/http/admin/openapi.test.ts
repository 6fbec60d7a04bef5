/**
 * `/api/v1/openapi.json`: generated from the route specs and valibot schemas; lists every mounted route
 * with its permission; a route mounted without a spec stops the build.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ADMIN_ROUTES } from '../../../src/http/admin/index.ts'
import { createHarness, type Harness, json, type Loose } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

describe('OpenAPI document', () => {
  test('lists every route with its permission, parameters and body schemas', async () => {
    const res = await h.call('GET', '/api/v1/openapi.json')
    expect(res.status).toBe(200)
    const doc = await json(res)
    expect(doc.openapi).toBe('3.0.3')
    const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    )
    const declared = ADMIN_ROUTES.map((r) => `${r.method} /api/v1${r.path.replace(/:(\w+)/g, '{$1}')}`)
    expect(listed.sort()).toEqual(declared.sort())
    expect(listed).toHaveLength(ADMIN_ROUTES.length)

    const create = doc.paths['/api/v1/accounts'].post
    expect(create['x-permission']).toBe('accounts:write')
    expect(create['x-scope']).toBe('portal')
    expect(create.security).toEqual([{ bearer: [] }])
    const body = create.requestBody.content['application/json'].schema
    expect(body.required.sort()).toEqual(['messenger', 'portalId'])
    expect(body.properties.messenger.enum).toEqual(['telegram', 'max', 'sandbox'])
    expect(body.properties.portalId.format).toBe('uuid')
    expect(create.responses['201'].content['application/json'].schema.properties.step).toBeDefined()

    const step = doc.paths['/api/v1/logins/{loginId}/steps'].post
    expect(step.parameters).toEqual([
      expect.objectContaining({ name: 'loginId', in: 'path', required: true }),
    ])
    const list = doc.paths['/api/v1/dead-letters'].get
    expect(list.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['account', 'limit'])
    expect(doc.paths['/api/v1/openapi.json'].get['x-permission']).toBe('public')
    const exchange = doc.paths['/api/v1/session/bitrix'].post
    expect(exchange).toMatchObject({ 'x-permission': 'public', 'x-scope': 'public', security: [] })
    expect(exchange.requestBody.content['application/json'].schema.required.sort()).toEqual([
      'applicationToken',
      'authId',
      'memberId',
    ])
    expect(doc.paths['/api/v1/session'].get['x-scope']).toBe('caller')
    const ids: string[] = []
    for (const methods of Object.values(doc.paths as Record<string, Loose>)) {
      for (const op of Object.values(methods)) {
        expect(op['x-permission']).toBeString()
        expect(['public', 'caller', 'portal']).toContain(op['x-scope'])
        ids.push(op.operationId)
      }
    }
    expect(new Set(ids).size).toBe(ids.length)
  })

  test('routes mounted by the admin app are exactly the declared ones', () => {
    const mounted = (h.app as unknown as { routes: { method: string; path: string }[] }).routes
      .filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/v1'))
      .map((r) => `${r.method} ${r.path}`)
    const declared = ADMIN_ROUTES.map((r) => `${r.method} /api/v1${r.path}`)
    expect([...new Set(mounted)].sort()).toEqual(declared.sort())
  })
})
