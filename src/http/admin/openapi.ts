/**
 * @module The OpenAPI 3.0 document of the admin API, written from the route specs and their valibot schemas
 * (`@valibot/to-json-schema`). Each operation names its permission (`x-permission`) and the bearer scheme.
 */
import { toJsonSchema } from '@valibot/to-json-schema'
import type * as v from 'valibot'
import { version } from '../../version.ts'
import { API_PREFIX, openApiPath, type RouteSpec } from './routes.ts'
import { ErrorView } from './schemas.ts'

type Json = Record<string, unknown>

function schemaOf(schema: v.GenericSchema, typeMode: 'input' | 'output' = 'output'): Json {
  const { $schema: _, ...rest } = toJsonSchema(schema, {
    target: 'openapi-3.0',
    typeMode,
    errorMode: 'ignore',
  })
  return rest as Json
}

/** Path and query parameters from an object schema. */
function parameters(where: 'path' | 'query', schema: v.GenericSchema | undefined): Json[] {
  if (!schema) return []
  const json = schemaOf(schema, 'input') as { properties?: Record<string, Json>; required?: string[] }
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: property,
  }))
}

/** `POST /accounts/:id/line` → `postAccountsIdLine`. */
function operationId(spec: RouteSpec): string {
  const words = spec.path.replace(/[^A-Za-z0-9]+(\w)/g, (_, first: string) => first.toUpperCase())
  return `${spec.method.toLowerCase()}${words}`
}

function operation(spec: RouteSpec): Json {
  const error = { 'application/json': { schema: schemaOf(ErrorView) } }
  const responses: Json = {}
  for (const [status, answer] of Object.entries(spec.responses)) {
    responses[status] = {
      description: answer.description,
      ...(answer.schema ? { content: { 'application/json': { schema: schemaOf(answer.schema) } } } : {}),
      ...(!answer.schema && Number(status) >= 400 ? { content: error } : {}),
    }
  }
  responses['400'] ??= { description: 'Invalid request (see `issues`)', content: error }
  if (spec.permission !== 'public') {
    responses['401'] ??= { description: 'No valid bearer token or session', content: error }
    responses['403'] ??= {
      description: 'The role lacks the permission, or the portal is another',
      content: error,
    }
  }
  return {
    operationId: operationId(spec),
    summary: spec.summary,
    tags: [spec.tag],
    'x-permission': spec.permission,
    'x-scope': spec.scope,
    security: spec.permission === 'public' ? [] : [{ bearer: [] }],
    parameters: [...parameters('path', spec.params), ...parameters('query', spec.query)],
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schemaOf(spec.body, 'input') } },
          },
        }
      : {}),
    responses,
  }
}

export function openApiDocument(specs: readonly RouteSpec[]): Json {
  const paths: Record<string, Json> = {}
  for (const spec of specs) {
    const path = `${API_PREFIX}${openApiPath(spec.path)}`
    paths[path] = { ...paths[path], [spec.method.toLowerCase()]: operation(spec) }
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Olchat admin API',
      version,
      description:
        'Accounts, logins, dead letters, status and API tokens. Authenticate with ' +
        '`Authorization: Bearer <token>`: an API token, or a session from `POST /api/v1/session/bitrix` ' +
        '(Bitrix24 users, checked with their portal). Roles: support (every portal), portal-admin and ' +
        'portal-viewer (one portal). Each operation names the permission it needs in `x-permission` and ' +
        'whether it touches one portal in `x-scope`.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  }
}
