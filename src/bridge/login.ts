/**
 * @module Logging in as a small state machine of steps (mautrix's `LoginProcess`). The caller starts a
 * process, shows each step, and calls `submit` after a `user-input` step or `wait` after a `display-and-wait`
 * step until a `complete` step arrives. Steps carry stable ids, so the panel may render its own form for a
 * known step, and instructions in Russian and English for the ones it does not know.
 */
import type { AccountId, LoginFlowId, LoginStepId, RemoteUserId } from './ids.ts'

export interface LocalizedText {
  ru: string
  en: string
}

/** One way to log in that a connector offers, e.g. phone number or QR code. */
export interface LoginFlow {
  id: LoginFlowId
  name: LocalizedText
  description: LocalizedText
}

export type LoginFieldKind = 'phone' | 'code' | 'password' | 'token' | 'text'

export interface LoginField {
  /** Key of the value in `submit(input)`. */
  id: string
  kind: LoginFieldKind
  label: LocalizedText
  /** A regular expression the value must match (a hint for forms; the connector checks again). */
  pattern?: string
}

/** What a `display-and-wait` step asks the user to look at. */
export type LoginDisplay = { kind: 'qr'; data: string } | { kind: 'code'; data: string } | { kind: 'nothing' }

interface LoginStepBase {
  stepId: LoginStepId
  instructions: LocalizedText
}

export interface UserInputStep extends LoginStepBase {
  type: 'user-input'
  fields: LoginField[]
}

export interface DisplayAndWaitStep extends LoginStepBase {
  type: 'display-and-wait'
  displayData: LoginDisplay
  /** When the displayed data stops working (a QR token); `wait` then returns a fresh step. */
  expiresAt?: Date
}

export interface CompleteStep extends LoginStepBase {
  type: 'complete'
  account: LoginResult
}

export type LoginStep = UserInputStep | DisplayAndWaitStep | CompleteStep

/** Who logged in: what the core stores on the account row once the flow is complete. */
export interface LoginResult {
  remoteId: RemoteUserId
  displayName?: string
  username?: string
  phone?: string
  /** A secret the client needs besides its session (a MAX bot token); stored sealed (S4). */
  credentials?: string
}

/**
 * Sealed per-account key-value storage for a connector's session (auth keys, update state) — the
 * `account_sessions` table (PRIVACY R1). Deleted when the account is disconnected.
 */
export interface SessionStore {
  get(key: string): Promise<Uint8Array | undefined>
  set(key: string, value: Uint8Array | string): Promise<void>
  delete(key: string): Promise<void>
  /** Forgets the whole session. */
  clear(): Promise<void>
}

/** What a login process may use. */
export interface LoginContext {
  /** The account row created for this login; the session is written under it as the flow goes. */
  accountId: AccountId
  session: SessionStore
  /** Aborted when the caller gives up on the login (the process must then release its connection). */
  signal: AbortSignal
}

/** One login attempt. Methods are called one at a time, never concurrently. */
export interface LoginProcess {
  /** Opens the flow and returns its first step. */
  start(): Promise<LoginStep>
  /**
   * Submits the values of the current `user-input` step, keyed by field id, and returns the next step.
   * @throws InvalidLoginInputError when a value was wrong; the same step may be submitted again.
   */
  submit(input: Readonly<Record<string, string>>): Promise<LoginStep>
  /**
   * After a `display-and-wait` step: resolves when the user has acted (e.g. scanned the QR code) or the
   * displayed data expired, with the next step (possibly a fresh `display-and-wait`).
   */
  wait(): Promise<LoginStep>
  /** Abandons the flow and closes whatever it opened. Safe to call at any time, also twice. */
  cancel(): Promise<void>
}
