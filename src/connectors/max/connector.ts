/**
 * @module `MaxConnector`: MAX bots through the official Bot API (reference/max-bot-api.md; personal accounts
 * have no official API, §11). One login flow, `token`; `loadAccount` only builds objects. The transport
 * (base URL, extra CA, per-token budgets) is shared by every account of the process.
 */
import type { AccountLogin, ConnectorCapabilities, MessengerConnector } from '../../bridge/connector.ts'
import { UnknownLoginFlowError } from '../../bridge/errors.ts'
import { type LoginFlowId, toLoginFlowId } from '../../bridge/ids.ts'
import type { LoginContext, LoginFlow, LoginProcess } from '../../bridge/login.ts'
import type { Logger } from '../../log/logger.ts'
import { type FetchLike, MaxHttp } from './api.ts'
import { MAX_TEXT_LENGTH, MaxClient } from './client.ts'
import { TokenLogin } from './login-token.ts'
import { DEFAULT_POLLING, type PollingOptions } from './polling.ts'
import type { ReceiveMode, WebhookSetup } from './receiver.ts'
import { MAX_FILE_SIZE } from './uploads.ts'

export interface MaxConnectorOptions {
  /** e.g. `https://platform-api2.max.ru` (§2.1). */
  apiUrl: string
  /** Extra trusted CA certificates, PEM (§2.1: the Russian Trusted Root CA). */
  ca?: string
  /** Built-in root certificates kept beside `ca` (`node:tls` `rootCertificates`). */
  rootCertificates?: readonly string[]
  fetch?: FetchLike
  mode: ReceiveMode
  /** Required in webhook mode. */
  webhook?: WebhookSetup
  polling?: Partial<PollingOptions>
  /** Bot API requests per second per token (§2.4: 30). */
  perSecond?: number
  /** Waits between sends refused with `attachment.not.ready` (§5.4). */
  notReadyDelaysMs?: readonly number[]
  /** Counts updates and parts left out (metrics). */
  onSkipped?(reason: string): void
  log?: Logger
}

/** 1 + 2 + 4 + 8 + 16 s: a large video has half a minute to be processed before the send is retried later. */
export const NOT_READY_DELAYS_MS = [1000, 2000, 4000, 8000, 16000] as const

const flows: readonly LoginFlow[] = [
  {
    id: toLoginFlowId('token'),
    name: { ru: 'Токен бота', en: 'Bot token' },
    description: {
      ru: 'Подключение чат-бота MAX по токену из кабинета business.max.ru.',
      en: 'Connect a MAX chat bot with the token from the business.max.ru dashboard.',
    },
  },
]

export class MaxConnector implements MessengerConnector {
  readonly name = 'max'
  readonly capabilities: ConnectorCapabilities = {
    edits: true,
    deletes: true,
    files: true,
    // MAX reports no read marks to bots (reference §6: only the bot's own `mark_seen`, unconfirmed).
    readReceipts: false,
    typing: true,
    maxTextLength: MAX_TEXT_LENGTH,
    maxFileSize: MAX_FILE_SIZE,
  }
  readonly http: MaxHttp

  constructor(private readonly options: MaxConnectorOptions) {
    if (options.mode === 'webhook' && !options.webhook)
      throw new Error('max: webhook mode needs a webhook setup')
    this.http = new MaxHttp(
      { baseUrl: options.apiUrl, fetch: options.fetch, ca: options.ca, perSecond: options.perSecond },
      options.rootCertificates,
    )
  }

  get mode(): ReceiveMode {
    return this.options.mode
  }

  loginFlows(): readonly LoginFlow[] {
    return flows
  }

  createLogin(flowId: LoginFlowId, context: LoginContext): LoginProcess {
    if (flowId !== 'token') throw new UnknownLoginFlowError(flowId)
    return new TokenLogin(this.http, context)
  }

  loadAccount(login: AccountLogin): MaxClient {
    return new MaxClient({
      accountId: login.id,
      session: login.session,
      token: login.credentials,
      http: this.http,
      mode: this.options.mode,
      ...(this.options.webhook ? { webhook: this.options.webhook } : {}),
      polling: { ...DEFAULT_POLLING, ...this.options.polling },
      notReadyDelaysMs: this.options.notReadyDelaysMs ?? NOT_READY_DELAYS_MS,
      ...(this.options.onSkipped ? { onSkipped: this.options.onSkipped } : {}),
      ...(this.options.log ? { log: this.options.log.child({ connector: 'max', accountId: login.id }) } : {}),
    })
  }
}

/** Compile-time check, mautrix's `var _ NetworkConnector = (*X)(nil)`. */
const _connector = (connector: MaxConnector) => connector satisfies MessengerConnector
