/**
 * The Telegram connector held to the connector contract (`tests/connectors/contract.ts`) over the stub
 * world: real mtcute clients behind production's middlewares, Telegram's server side in
 * `tests/support/telegram-stub*.ts`.
 *
 * The contract logs in under one random account id and loads the account under another, sharing only the
 * session store, and has no account rows in a database. So the mtcute storage and the message log here are
 * kept per session store, in memory (`MemoryStorage`, `MemoryMessageLog`); the PostgreSQL versions of both
 * are covered by `storage.test.ts` and the client suites. Health checks run every 200 ms so a revoked or
 * duplicated session is found inside the contract's 5 s waits (production: 30 s, tested on simulated time
 * in `client-session.test.ts`).
 */
import { type ITelegramStorageProvider, MemoryStorage } from '@mtcute/core'
import { TelegramClient } from '@mtcute/core/client.js'
import {
  type RemoteMessageId,
  toRemoteChatId,
  toRemoteMessageId,
  toRemoteUserId,
} from '../../../src/bridge/ids.ts'
import type { SessionStore } from '../../../src/bridge/login.ts'
import { TelegramConnector } from '../../../src/connectors/telegram/connector.ts'
import { LoginAttempts } from '../../../src/connectors/telegram/login-common.ts'
import { MemoryMessageLog } from '../../../src/connectors/telegram/message-log.ts'
import { TelegramStub } from '../../support/telegram-stub.ts'
import { TelegramStubWorld, type WorldMessage } from '../../support/telegram-stub-world.ts'
import {
  type ConnectorHarness,
  type ContractAccount,
  type ContractCustomer,
  describeConnectorContract,
  type RemoteOutgoing,
} from '../contract.ts'
import { TEST_DEVICE } from './harness.ts'

let phones = 0

async function telegramContractHarness(): Promise<ConnectorHarness> {
  const world = new TelegramStubWorld()
  const stubs: TelegramStub[] = []
  const storages = new WeakMap<SessionStore, ITelegramStorageProvider>()
  const logs = new WeakMap<SessionStore, MemoryMessageLog>()
  const storageOf = (session: SessionStore) => {
    if (!storages.has(session)) storages.set(session, new MemoryStorage())
    return storages.get(session)!
  }
  const sessionsById = new Map<string, SessionStore>()
  const connector = new TelegramConnector({
    storage: (accountId, session) => {
      sessionsById.set(accountId, session)
      return storageOf(session)
    },
    createClient: (storage) => {
      const stub = new TelegramStub({ storage, updates: true, catchUp: true })
      stubs.push(stub)
      world.attach(stub)
      return new TelegramClient({ client: stub })
    },
    device: TEST_DEVICE,
    messages: (accountId) => {
      const session = sessionsById.get(accountId)!
      if (!logs.has(session)) logs.set(session, new MemoryMessageLog())
      return logs.get(session)!
    },
    attempts: new LoginAttempts(1000),
    tuning: { healthIntervalMs: 200 },
  })

  function outgoingOf(message: WorldMessage): RemoteOutgoing {
    const media = message.media
    const doc =
      media?._ === 'messageMediaDocument' && media.document?._ === 'document' ? media.document : undefined
    const pic = media?._ === 'messageMediaPhoto' && media.photo?._ === 'photo' ? media.photo : undefined
    const stored = doc
      ? world.files.get(doc.id.toString())
      : pic
        ? world.files.get(pic.id.toString())
        : undefined
    return {
      id: toRemoteMessageId(String(message.id)),
      text: message.text,
      deleted: message.deleted,
      ...(stored ? { file: { name: stored.name, bytes: stored.bytes } } : {}),
    }
  }

  async function newAccount(
    options: { password?: string; passwordHint?: string } = {},
  ): Promise<ContractAccount> {
    const phone = `7977${String(process.pid % 1000).padStart(3, '0')}${String(++phones).padStart(4, '0')}`
    const account = world.addAccount({
      firstName: `Manager ${phones}`,
      phone,
      ...(options.password ? { password: options.password } : {}),
      ...(options.passwordHint ? { hint: options.passwordHint } : {}),
    })
    return {
      phone: `+${phone}`,
      ...options,
      loginCode: async () => world.codes.get(phone)!.code,
      expireCode: async () => {
        world.codes.get(phone)!.expired = true
      },
      async newCustomer(): Promise<ContractCustomer> {
        const user = world.addUser({
          firstName: 'Customer',
          lastName: String(phones),
          username: `customer_${phones}`,
        })
        // In the account's address book, so the account may write first (Telegram needs to know the peer).
        account.contacts.add(user.id)
        return {
          chatId: toRemoteChatId(String(user.id)),
          userId: toRemoteUserId(String(user.id)),
          async send({ text, file }) {
            const m = world.customerSends(phone, user, text ?? '', {
              ...(file
                ? { media: { kind: 'document', bytes: file.bytes, name: file.name, mimeType: file.mime } }
                : {}),
            })
            return { messageId: toRemoteMessageId(String(m.id)), date: new Date(m.date * 1000) }
          },
          edit: async (messageId, text) => world.customerEdits(phone, Number(messageId), text),
          delete: async (ids) => world.customerDeletes(phone, ids.map(Number)),
          read: async () => world.customerReads(phone, user),
        }
      },
      outgoing: async (customer) =>
        world
          .chat(phone, Number(customer.userId))
          .filter((m) => m.out)
          .map(outgoingOf),
      async readByAccount(customer) {
        const upTo = account.readInbox.get(Number(customer.userId))
        return upTo === undefined ? null : (String(upTo) as RemoteMessageId)
      },
      dropConnections: async () => world.dropConnections(phone),
      revokeSessions: async () => world.revokeSessions(phone),
      floodWait: async (seconds) => world.floodNext(seconds, undefined, phone),
      dropNextResponse: async (when) => world.loseNext(when, undefined, phone),
      duplicatedSessions: async () => account.duplicatedSessions,
    }
  }

  return {
    connector,
    newAccount,
    invalidPhone: '+0123456',
    unknownChatId: toRemoteChatId('999999999'),
    activity: async () => stubs.length + stubs.reduce((n, s) => n + s.calls.length, 0),
    async close() {
      await Promise.all(stubs.map((s) => s.destroy()))
    },
  }
}

describeConnectorContract('telegram', telegramContractHarness)
