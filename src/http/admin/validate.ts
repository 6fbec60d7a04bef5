/**
 * @module valibot validators for hono (`validator` middleware, as honojs' valibot adapter does), failing with
 * our error format: 400 `{ error: 'invalid_request', message, issues: [{ in, path, message }] }`.
 */
import { validator } from 'hono/validator'
import * as v from 'valibot'
import { ApiError } from './errors.ts'

type Target = 'json' | 'param' | 'query'

export interface ValidationIssue {
  in: Target
  path: string
  message: string
}

function check<S extends v.GenericSchema>(target: Target, schema: S, value: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, value)
  if (result.success) return result.output
  const issues: ValidationIssue[] = result.issues.map((issue) => ({
    in: target,
    path: v.getDotPath(issue) ?? '',
    message: issue.message,
  }))
  const where = target === 'json' ? 'body' : target === 'param' ? 'path' : 'query string'
  throw new ApiError(400, 'invalid_request', `The request ${where} is invalid`, { issues })
}

export const validJson = <S extends v.GenericSchema>(schema: S) =>
  validator('json', (value) => check('json', schema, value))

export const validParam = <S extends v.GenericSchema>(schema: S) =>
  validator('param', (value) => check('param', schema, value))

export const validQuery = <S extends v.GenericSchema>(schema: S) =>
  validator('query', (value) => check('query', schema, value))
