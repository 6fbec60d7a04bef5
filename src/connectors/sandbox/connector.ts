/**
 * @module `SandboxConnector`: the sandbox messenger (tests/emulators/sandbox), reached over the network like
 * the real connectors reach Telegram and MAX. One login flow, `phone`; `loadAccount` only builds objects.
 */
import type { AccountLogin, ConnectorCapabilities, MessengerConnector } from '../../bridge/connector.ts'
import { UnknownLoginFlowError } from '../../bridge/errors.ts'
import { type LoginFlowId, toLoginFlowId } from '../../bridge/ids.ts'
import type { LoginContext, LoginFlow, LoginProcess } from '../../bridge/login.ts'
import { type FetchLike, SandboxApi } from './api.ts'
import { SandboxClient } from './client.ts'
import type { LiveOptions } from './live.ts'
import { PhoneLogin } from './login-phone.ts'

export interface SandboxConnectorOptions {
  /** Where the sandbox serves, e.g. `http://127.0.0.1:7070` (its API is under `/v1`). */
  baseUrl: string
  /** Replaces the global fetch (tests count calls with it). */
  fetch?: FetchLike
  /** Tuning of the live connection. */
  live?: Partial<LiveOptions>
}

const flows: readonly LoginFlow[] = [
  {
    id: toLoginFlowId('phone'),
    name: { ru: 'По номеру телефона', en: 'Phone number' },
    description: {
      ru: 'Вход по номеру телефона и коду из приложения (и паролю, если он включён).',
      en: 'Log in with the phone number and the code sent to the app (and the password, if set).',
    },
  },
]

export class SandboxConnector implements MessengerConnector {
  readonly name = 'sandbox'
  readonly capabilities: ConnectorCapabilities = {
    edits: true,
    deletes: true,
    files: true,
    readReceipts: true,
    typing: true,
    maxTextLength: 4096,
    maxFileSize: 512 * 1024 * 1024,
  }
  private readonly api: SandboxApi

  constructor(private readonly options: SandboxConnectorOptions) {
    this.api = new SandboxApi(options.baseUrl, options.fetch)
  }

  loginFlows(): readonly LoginFlow[] {
    return flows
  }

  createLogin(flowId: LoginFlowId, context: LoginContext): LoginProcess {
    switch (flowId) {
      case 'phone':
        return new PhoneLogin(this.api, context)
      default:
        throw new UnknownLoginFlowError(flowId)
    }
  }

  loadAccount(login: AccountLogin): SandboxClient {
    return new SandboxClient({
      accountId: login.id,
      session: login.session,
      api: this.api,
      ...this.options.live,
    })
  }
}

/** Compile-time check, mautrix's `var _ NetworkConnector = (*X)(nil)`. */
const _connector = (connector: SandboxConnector) => connector satisfies MessengerConnector
