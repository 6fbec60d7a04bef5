/**
 * @module What a REST method implementation receives (the authenticated call context) and how it is described
 * in the method table.
 */
import type { Emulator } from './context.ts'
import type { Portal } from './state.ts'
import type { Installation } from './types.ts'

export interface CallContext {
  emu: Emulator
  portal: Portal
  /** §4.1: OAuth app context or an incoming webhook. */
  authType: 'oauth' | 'webhook'
  clientId: string | null
  installation: Installation | null
  userId: number
}

/** List-method answer: §4.3 adds `total` and `next`. */
export class ListResult {
  constructor(
    readonly result: unknown,
    readonly total: number,
    readonly next?: number,
  ) {}
}

export interface MethodDef {
  fn: (ctx: CallContext, params: Record<string, unknown>) => unknown
  /** Any one of these scopes is enough (§4.1: imconnector methods sit under `imopenlines` in source). */
  scope?: string[]
  /** §4.1/§2.6: how the method refuses a webhook. */
  appOnly?: 'wrong-auth-type' | 'access-denied'
}

export type MethodTable = Record<string, MethodDef>
