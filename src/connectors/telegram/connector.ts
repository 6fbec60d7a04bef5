/**
 * @module `TelegramConnector`: personal Telegram accounts through mtcute. Two login flows (phone, QR) over a
 * storage in memory staged into the login's session (`staging.ts`), one client per account over its session
 * rows in PostgreSQL (`storage.ts`), built without I/O.
 */
import type { ITelegramStorageProvider } from '@mtcute/core'
import type { AccountLogin, ConnectorCapabilities, MessengerConnector } from '../../bridge/connector.ts'
import { UnknownLoginFlowError } from '../../bridge/errors.ts'
import { type AccountId, type LoginFlowId, toLoginFlowId } from '../../bridge/ids.ts'
import type { LoginContext, LoginFlow, LoginProcess, SessionStore } from '../../bridge/login.ts'
import type { Logger } from '../../log/logger.ts'
import { TelegramClientAdapter } from './client.ts'
import type { TelegramClientFactory } from './client-factory.ts'
import type { TelegramDevice } from './device.ts'
import { LoginAttempts, type LoginClients } from './login-common.ts'
import { TelegramPhoneLogin } from './login-phone.ts'
import { TelegramQrLogin } from './login-qr.ts'
import type { MessageLog } from './message-log.ts'
import { MAX_TEXT_LENGTH } from './send.ts'
import { stagingStorage } from './staging.ts'
import type { TelegramClientTuning, TelegramClock } from './tuning.ts'

export interface TelegramConnectorOptions {
  /** The mtcute storage of one account (production: `telegramStorage(repos.telegramSessions, id)`). */
  storage(accountId: AccountId, session: SessionStore): ITelegramStorageProvider
  /** Builds the mtcute client over a storage (production: `networkClientFactory`). */
  createClient: TelegramClientFactory
  /** What new logins present to Telegram (each account keeps the device it logged in with). */
  device: TelegramDevice
  /** The account's message log (production: `telegram_message_chats`); in memory when absent. */
  messages?(accountId: AccountId): MessageLog
  attempts?: LoginAttempts
  tuning?: Partial<TelegramClientTuning>
  clock?: TelegramClock
  log?: Logger
}

const flows: readonly LoginFlow[] = [
  {
    id: toLoginFlowId('phone'),
    name: { ru: 'По номеру телефона', en: 'Phone number' },
    description: {
      ru: 'Номер телефона, код из Telegram и облачный пароль, если он включён.',
      en: 'Phone number, the code from Telegram, and the cloud password if one is set.',
    },
  },
  {
    id: toLoginFlowId('qr'),
    name: { ru: 'По QR-коду', en: 'QR code' },
    description: {
      ru: 'Отсканируйте QR-код в Telegram на телефоне (Настройки → Устройства).',
      en: 'Scan the QR code with Telegram on the phone (Settings → Devices).',
    },
  },
]

export class TelegramConnector implements MessengerConnector {
  readonly name = 'telegram'
  readonly capabilities: ConnectorCapabilities = {
    edits: true,
    deletes: true,
    files: true,
    readReceipts: true,
    typing: true,
    // Split into messages of 4096 (send.ts); longer texts are refused rather than sent as a flood.
    maxTextLength: MAX_TEXT_LENGTH,
    // 2000 MiB: 4000 parts of 512 KiB for an account without Premium (reference §5).
    maxFileSize: 2000 * 1024 * 1024,
  }
  private readonly attempts: LoginAttempts

  constructor(private readonly options: TelegramConnectorOptions) {
    this.attempts = options.attempts ?? new LoginAttempts()
  }

  loginFlows(): readonly LoginFlow[] {
    return flows
  }

  createLogin(flowId: LoginFlowId, context: LoginContext): LoginProcess {
    // A login never writes the account's tables: a new account has no row yet (`staging.ts`).
    const clients: LoginClients = {
      open: () => {
        const storage = stagingStorage()
        return { tg: this.options.createClient(storage, this.options.device), storage }
      },
      device: this.options.device,
    }
    switch (flowId) {
      case 'phone':
        return new TelegramPhoneLogin(context, clients, this.attempts)
      case 'qr':
        return new TelegramQrLogin(context, clients)
      default:
        throw new UnknownLoginFlowError(flowId)
    }
  }

  loadAccount(login: AccountLogin): TelegramClientAdapter {
    return new TelegramClientAdapter({
      accountId: login.id,
      session: login.session,
      storage: this.options.storage(login.id, login.session),
      createClient: this.options.createClient,
      device: this.options.device,
      ...(this.options.messages ? { messages: this.options.messages(login.id) } : {}),
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      ...(this.options.log ? { log: this.options.log.child({ accountId: login.id }) } : {}),
      ...this.options.tuning,
    })
  }
}

const _connector = (connector: TelegramConnector) => connector satisfies MessengerConnector
