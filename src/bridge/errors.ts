/**
 * @module Typed errors of the connector contract. Connectors translate their messenger's failures into these,
 * so the core decides retry, wait, re-login or dead-letter without knowing any messenger: a `FLOOD_WAIT_30`
 * from Telegram and a 429 with `Retry-After: 30` from MAX both become `FloodWaitError(30)`.
 */
import type { LocalizedText } from './login.ts'

/** What the core does with a failure. */
export type ErrorDisposition = 'needs-login' | 'flood-wait' | 'transient' | 'permanent'

export abstract class BridgeError extends Error {
  abstract readonly disposition: ErrorDisposition
}

/** The session is gone or the credentials are wrong: reconnecting will not help until someone logs in. */
export class NeedsLoginError extends BridgeError {
  override name = 'NeedsLoginError'
  readonly disposition = 'needs-login'
  constructor(
    readonly reason: 'bad-credentials' | 'revoked' | 'logged-out',
    options?: ErrorOptions,
  ) {
    super(`login needed: ${reason}`, options)
  }
}

/** The messenger asks us to wait `seconds` before the next call. Wait and retry; never drop. */
export class FloodWaitError extends BridgeError {
  override name = 'FloodWaitError'
  readonly disposition = 'flood-wait'
  constructor(
    readonly seconds: number,
    options?: ErrorOptions,
  ) {
    super(`flood wait: ${seconds} s`, options)
  }
}

/** The network or the messenger failed in a way that may pass: retry with backoff. */
export class TransientNetworkError extends BridgeError {
  override name = 'TransientNetworkError'
  readonly disposition = 'transient'
}

/**
 * The messenger refused this one item for good (blocked by the user, chat gone, file too large): retrying
 * cannot help; the item is dead-lettered with `code` as the reason.
 */
export class PermanentSendError extends BridgeError {
  override name = 'PermanentSendError'
  readonly disposition = 'permanent'
  constructor(
    readonly code: string,
    message?: string,
    options?: ErrorOptions,
  ) {
    super(message ?? code, options)
  }
}

/** The connector cannot do this at all (e.g. a MAX bot editing a customer's message). */
export class UnsupportedError extends BridgeError {
  override name = 'UnsupportedError'
  readonly disposition = 'permanent'
  constructor(readonly feature: string) {
    super(`not supported: ${feature}`)
  }
}

/** A submitted login value was wrong (bad code, bad password); the same step may be submitted again. */
export class InvalidLoginInputError extends Error {
  override name = 'InvalidLoginInputError'
  constructor(
    readonly fieldId: string,
    readonly explanation: LocalizedText,
  ) {
    super(`invalid login input: ${fieldId}`)
  }
}

/** `createLogin` was asked for a flow the connector does not offer. */
export class UnknownLoginFlowError extends Error {
  override name = 'UnknownLoginFlowError'
  constructor(readonly flowId: string) {
    super(`unknown login flow: ${flowId}`)
  }
}

/** The disposition of any thrown value; anything untyped counts as transient (retry, then dead-letter). */
export function dispositionOf(error: unknown): ErrorDisposition {
  return error instanceof BridgeError ? error.disposition : 'transient'
}
