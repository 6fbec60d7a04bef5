/**
 * @module `MessengerConnector`: one messenger for the whole process (mautrix's `NetworkConnector`): what it
 * can do, how to log in, and how to turn a stored account into a live `MessengerClient`. Connectors implement
 * it and never import the Bitrix24 side; the core talks to them only through these interfaces.
 */
import type { MessengerClient } from './client.ts'
import type { AccountId, LoginFlowId, RemoteUserId } from './ids.ts'
import type { LoginContext, LoginFlow, LoginProcess, SessionStore } from './login.ts'

export type { MessengerClient } from './client.ts'

/** The messengers Olchat knows; the `messenger` column of `accounts`. */
export type ConnectorName = 'telegram' | 'max' | 'sandbox'

/** What the messenger can do in general; per-client extras are the interfaces in `capabilities.ts`. */
export interface ConnectorCapabilities {
  edits: boolean
  deletes: boolean
  files: boolean
  /** The contact's read marks reach us (so `imconnector.send.status.reading` can follow). */
  readReceipts: boolean
  typing: boolean
  /** Longest text one message may carry; longer texts are split by the core. */
  maxTextLength: number
  /** Largest file the messenger accepts, in bytes. */
  maxFileSize: number
}

/** A stored account, as `loadAccount` needs it (from the `accounts` row and its session). */
export interface AccountLogin {
  id: AccountId
  remoteId: RemoteUserId | null
  /** The unsealed credentials (a MAX bot token), if the connector stored any at login. */
  credentials: string | null
  session: SessionStore
}

export interface MessengerConnector {
  readonly name: ConnectorName

  /** Constant for the life of the process. */
  readonly capabilities: ConnectorCapabilities

  /** The flows `createLogin` accepts, in the order a panel should offer them. */
  loginFlows(): readonly LoginFlow[]

  /**
   * Prepares a login; nothing happens until `start()` is called on the result.
   * @throws UnknownLoginFlowError
   */
  createLogin(flowId: LoginFlowId, context: LoginContext): LoginProcess

  /**
   * Makes the client of a stored account. Must not do any I/O or slow work (the supervisor calls it for every
   * account at start); the client reads its session when it connects.
   */
  loadAccount(login: AccountLogin): MessengerClient
}
