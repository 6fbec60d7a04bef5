/**
 * The MAX connector's contract harness over the MAX emulator (tests/emulators/max). Faults the emulator has
 * no switch for — a lost answer, a dropped connection — are made in the HTTP layer between the connector and
 * the emulator: the request really reaches the emulator (`after`) or never leaves (`before`).
 */
import { toRemoteChatId, toRemoteMessageId, toRemoteUserId } from '../../src/bridge/ids.ts'
import { MaxConnector, type MaxConnectorOptions } from '../../src/connectors/max/connector.ts'
import type { MaxEmulator } from '../emulators/max/testkit.ts'
import { startMaxEmulator } from '../emulators/max/testkit.ts'
import type { ConnectorHarness, ContractAccount, ContractCustomer, ContractFeatures } from './contract.ts'

export const MAX_FEATURES: ContractFeatures = {
  login: 'token',
  clientIdempotency: true,
  readMarks: false,
  exclusiveSessions: false,
  remoteLogout: false,
  floodSeconds: false,
}

export interface MaxHarness extends ConnectorHarness {
  emulator: MaxEmulator
  connector: MaxConnector
}

type Fault = { token: string; when: 'before' | 'after' }

export async function maxHarness(options: Partial<MaxConnectorOptions> = {}): Promise<MaxHarness> {
  const emulator = await startMaxEmulator()
  let requests = 0
  const faults: Fault[] = []
  /** Open long polls per token (when each started), to cut them as a network failure would. */
  const polls = new Map<string, Map<(error: Error) => void, number>>()

  /**
   * Waits (up to 2 s) until the client holds a long poll that started < 500 ms ago: a fault set then hits the
   * call the test makes next, not a poll that happened to start in between.
   */
  async function heldPoll(token: string): Promise<void> {
    const deadline = Date.now() + 2000
    while (Date.now() < deadline) {
      const fresh = [...(polls.get(token)?.values() ?? [])].some((started) => Date.now() - started < 500)
      if (fresh) return
      await Bun.sleep(10)
    }
  }

  const faultyFetch = (async (input: string | URL | Request, init?: RequestInit) => {
    requests++
    const url = new URL(String(input))
    const token = new Headers(init?.headers).get('authorization') ?? ''
    const isPoll = url.pathname === '/updates'
    const fault = isPoll ? -1 : faults.findIndex((f) => f.token === token)
    if (fault >= 0) {
      const [{ when }] = faults.splice(fault, 1) as [Fault]
      if (when === 'after') await fetch(input, init).then((res) => res.arrayBuffer())
      throw new TypeError('connection reset by peer')
    }
    if (!isPoll) return fetch(input, init)
    let cut = (_: Error) => {}
    const cutOff = new Promise<never>((_, reject) => {
      cut = reject
    })
    const open = polls.get(token) ?? new Map()
    polls.set(token, open)
    open.set(cut, Date.now())
    try {
      return await Promise.race([fetch(input, init), cutOff])
    } finally {
      open.delete(cut)
    }
  }) as typeof fetch

  const connector = new MaxConnector({
    apiUrl: emulator.url,
    fetch: faultyFetch,
    mode: 'polling',
    // Short holds so a revoked token or a cut connection shows within the contract's waits.
    polling: { timeoutSeconds: 1 },
    notReadyDelaysMs: [50, 100, 200, 400],
    ...options,
  })

  async function newAccount(): Promise<ContractAccount> {
    const bot = emulator.createBot({ name: 'Olchat test bot' })
    const { token } = bot
    return {
      phone: '',
      token,
      loginCode: async () => {
        throw new Error('MAX has no login codes')
      },
      expireCode: async () => {},
      async newCustomer(): Promise<ContractCustomer> {
        const user = emulator.createUser({ name: 'Анна', lastName: 'Клиент' })
        const { chatId } = await emulator.userStartsBot(token, user.userId)
        return {
          chatId: toRemoteChatId(String(chatId)),
          userId: toRemoteUserId(String(user.userId)),
          async send({ text, file }) {
            const date = new Date()
            const sent = await emulator.userSends(token, user.userId, {
              ...(text === undefined ? {} : { text }),
              ...(file ? { file: { name: file.name, mime: file.mime, bytes: file.bytes } } : {}),
            })
            return { messageId: toRemoteMessageId(sent.mid), date }
          },
          edit: (messageId, text) => emulator.userEdits(token, user.userId, messageId, text),
          async delete(ids) {
            for (const id of ids) await emulator.userDeletes(token, user.userId, id)
          },
          read: async () => {},
        }
      },
      async outgoing(customer) {
        return emulator.botMessages(token, Number(customer.chatId)).map((m) => {
          const file = m.attachments.find((a) => a.bytes)
          return {
            id: toRemoteMessageId(m.mid),
            text: m.text,
            deleted: m.deleted,
            ...(file ? { file: { name: file.name ?? '', bytes: file.bytes! } } : {}),
          }
        })
      },
      readByAccount: async () => null,
      async dropConnections() {
        await heldPoll(token)
        for (const cut of polls.get(token)?.keys() ?? []) cut(new TypeError('connection reset by peer'))
      },
      revokeSessions: async () => emulator.faults.revokeToken(token),
      async floodWait() {
        // A login has no poll running: the wait then ends after 2 s without one.
        await heldPoll(token)
        emulator.faults.rateLimit(1)
      },
      dropNextResponse: async (when) => void faults.push({ token, when }),
      duplicatedSessions: async () => 0,
    }
  }

  return {
    emulator,
    connector,
    newAccount,
    invalidPhone: '',
    invalidToken: 'not-a-real-token-0000000000',
    unknownChatId: toRemoteChatId('4999999'),
    activity: async () => requests,
    close: () => emulator.close(),
  }
}
