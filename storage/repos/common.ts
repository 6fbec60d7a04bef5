/**
 * @module Shared bits of the repositories: the query handle type, the not-found error base, JSON helpers.
 *
 * Ids of bigint identity columns are strings (postgres.js returns int8 as text so no precision is lost);
 * uuid ids are strings anyway, so every id is an opaque string to callers.
 */
import type postgres from 'postgres'
import type { Sql, Tx } from '../db.ts'

/** The pool or a transaction: repository methods take one so callers can write several tables atomically. */
export type Queryable = Sql | Tx

/** A row the caller asked for by id or key does not exist. */
export class NotFoundError extends Error {
  override name = 'NotFoundError'
  constructor(
    readonly entity: string,
    readonly key: string,
  ) {
    super(`${entity} ${key} not found`)
  }
}

/**
 * A jsonb parameter. postgres.js serialises it with JSON.stringify once it learns the column type, so pass
 * the value itself (a pre-stringified value would be stored as one JSON string).
 */
export function jsonParam(db: Queryable, value: unknown): postgres.Parameter {
  return db.json((value ?? {}) as postgres.JSONValue)
}

/**
 * jsonb comes out as `column::text` parsed here: the client's camelCase transform would otherwise rename keys
 * inside the document (`LINE_ID` → `LINEID`).
 */
export function parseJson<T = Record<string, unknown>>(text: string): T
export function parseJson<T = Record<string, unknown>>(text: string | null): T | null
export function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T)
}

/** `YYYY-MM-DD` of a UTC day (partitions and analytics days are UTC). */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10)
}

/** Seals a nullable plain value; undefined stays undefined (meaning: leave the column as it is). */
export function sealOptional(
  seal: (plain: string) => Buffer,
  value: string | null | undefined,
): Buffer | null | undefined {
  if (value === undefined || value === null) return value
  return seal(value)
}
