/**
 * Logged-in Telegram accounts for the client suites: a world account logged in through the connector's own
 * phone flow (so its auth key, update state and device are in the real tables), then loaded as the core
 * does and connected, with an event log.
 */
import { expect } from 'bun:test'
import type { AccountLogin } from '../../../src/bridge/connector.ts'
import { toRemoteChatId, toRemoteUserId } from '../../../src/bridge/ids.ts'
import type { RemoteEvent, RemoteMessageEvent } from '../../../src/bridge/remote-event.ts'
import type { TelegramClientAdapter } from '../../../src/connectors/telegram/client.ts'
import type { TelegramStubWorld, WorldAccount, WorldUser } from '../../support/telegram-stub-world.ts'
import { EventLog } from '../contract.ts'
import type { telegramHarness } from './harness.ts'

type Harness = ReturnType<typeof telegramHarness>

let phones = 0
const nextPhone = () =>
  `7988${String(process.pid % 1000).padStart(3, '0')}${String(++phones).padStart(4, '0')}`

export async function loggedIn(h: Harness, options: { password?: string } = {}) {
  const phone = nextPhone()
  const account = h.world.addAccount({ firstName: 'Manager', phone, ...options })
  const context = await h.loginContext()
  const login = h.connector.createLogin(h.connector.loginFlows()[0]!.id, context)
  let step = await login.start()
  step = await login.submit({ phone })
  step = await login.submit({ code: h.world.codes.get(phone)!.code })
  if (step.type === 'user-input' && options.password)
    step = await login.submit({ password: options.password })
  if (step.type !== 'complete') throw new Error(`login stopped at ${step.stepId}`)
  const done = step
  const stored: AccountLogin = {
    id: context.accountId,
    remoteId: done.account.remoteId,
    credentials: null,
    session: context.session,
  }
  return { phone, account, login: stored, context }
}

/** A loaded client with its event log (what the core would subscribe). */
export function load(h: Harness, login: AccountLogin) {
  const client = h.connector.loadAccount(login) as TelegramClientAdapter
  return { client, log: new EventLog(client) }
}

export async function online(h: Harness, options: { password?: string } = {}) {
  const setup = await loggedIn(h, options)
  const { client, log } = load(h, setup.login)
  await client.connect()
  expect(log.events.at(-1)).toMatchObject({ type: 'connection', state: 'connected' })
  return { ...setup, client, log }
}

/** A person who writes to accounts; `chatId` is what the account sees. */
export function customer(world: TelegramStubWorld, fields: Partial<WorldUser> = {}) {
  const user = world.addUser({ firstName: 'Alice', lastName: 'Smith', username: 'alice_s', ...fields })
  return { user, chatId: toRemoteChatId(String(user.id)), userId: toRemoteUserId(String(user.id)) }
}

export function messageWithId(log: EventLog, id: number): Promise<RemoteMessageEvent> {
  return log.waitFor(
    (e: RemoteEvent): e is RemoteMessageEvent => e.type === 'message' && e.messageId === String(id),
  )
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

export function bytes(size: number, seed = 3): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + seed) % 256)
}

export type { WorldAccount }
