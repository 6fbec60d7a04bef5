/**
 * A stand-in for mtcute's network layer, our own (the registry has no `@mtcute/test` of our mtcute version;
 * reference §0, §8): a `BaseTelegramClient` whose RPC calls are answered by responders instead of a socket,
 * so a real high-level `TelegramClient({ client: stub })` runs its own logic — login methods, the updates
 * manager with pts bookkeeping, message parsing, uploads and downloads — over it.
 *
 * Responders bypass mtcute's network stack (reference §8.3), so this stub puts back the part of it that
 * decides what a caller sees: every call runs through the same middleware chain production uses
 * (`telegramMiddlewares()`: flood waiter, internal-error retries) around the responder, which answers in
 * Telegram's wire form (`mt_rpc_error`); the result is then turned into a thrown `tl.RpcError` and its peers
 * stored, as `BaseTelegramClient.call` does. Only the transport is missing.
 *
 * The auth key is what Telegram knows a session by: on its first connection the stub "exchanges" one (a
 * random 256-byte key written to the client's storage, as mtcute's key exchange would) and the world
 * (`telegram-stub-world.ts`) binds authorizations to it, so a new client over the same stored session is the
 * same login. Every call is recorded; a call without a responder fails at once instead of hanging on a
 * socket that does not exist (reference §8.3 caveat).
 */
import { type ITelegramStorageProvider, Long, MemoryStorage, type RpcCallMiddleware, tl } from '@mtcute/core'
import { BaseTelegramClient } from '@mtcute/core/client.js'
import { telegramMiddlewares } from '../../src/connectors/telegram/middlewares.ts'
import { bunRuntime, type TelegramRuntime } from '../../src/connectors/telegram/platform.ts'
import { createLogger } from '../../src/log/logger.ts'

/**
 * The Bun runtime parts for clients in tests that never open a socket. Silent, unless
 * `TELEGRAM_STUB_LOG=5` (mtcute's verbose level) asks for mtcute's own log while debugging a suite.
 */
export function stubPlatform(): TelegramRuntime {
  return process.env.TELEGRAM_STUB_LOG ? bunRuntime(createLogger({ level: 'trace' })) : bunRuntime()
}

type Method = tl.RpcMethod['_']
export type StubRequest<M extends Method> = Extract<tl.RpcMethod, { _: M }>
export type StubResponder<M extends Method> = (
  request: StubRequest<M>,
) => tl.RpcCallReturn[M] | Promise<tl.RpcCallReturn[M]>

/** Thrown for a method nobody answers: a test that reaches it is missing a responder. */
export class NoResponderError extends Error {
  override name = 'NoResponderError'
}

export interface TelegramStubOptions {
  storage?: ITelegramStorageProvider
  /** Run mtcute's real updates manager (pts checks, getDifference). */
  updates?: boolean
  /** Catch up from the stored update state on start (production's setting). */
  catchUp?: boolean
  /** The network middlewares; production's by default. */
  middlewares?: RpcCallMiddleware[]
}

/** Telegram's error on the wire; `tl.RpcError.fromTl` turns it into what callers catch. */
interface WireError {
  _: 'mt_rpc_error'
  errorCode: number
  errorMessage: string
}

function toWire(error: unknown): WireError | undefined {
  if (!tl.RpcError.is(error)) return undefined
  const param = (error as { seconds?: number; newDc?: number }).seconds ?? (error as { newDc?: number }).newDc
  const message = param === undefined ? error.text : error.text.replace('%d', String(param))
  return { _: 'mt_rpc_error', errorCode: error.code, errorMessage: message }
}

const isWire = (value: unknown): value is WireError =>
  typeof value === 'object' && value !== null && (value as { _?: string })._ === 'mt_rpc_error'

type ConnectionState = 'offline' | 'connected' | 'dropped'

export class TelegramStub extends BaseTelegramClient {
  readonly calls: tl.RpcMethod[] = []
  readonly #responders = new Map<string, (request: never) => unknown>()
  readonly #chain: (request: tl.RpcMethod, params: unknown) => Promise<unknown>
  #state: ConnectionState = 'offline'
  #authKey: string | undefined
  #stalled = false
  /** Told when the stub (re)connects: the world checks the key is not in use twice. */
  onLinkUp: ((stub: TelegramStub) => void) | undefined

  constructor({
    storage = new MemoryStorage(),
    updates = false,
    catchUp = false,
    middlewares = telegramMiddlewares(),
  }: TelegramStubOptions = {}) {
    super({
      apiId: 1,
      apiHash: 'stub',
      storage,
      ...stubPlatform(),
      logLevel: Number(process.env.TELEGRAM_STUB_LOG ?? 0),
      disableUpdates: !updates,
      updates: updates ? { catchUp } : false,
      storageOptions: { cleanup: false },
    })
    const answer = async (request: tl.RpcMethod): Promise<unknown> => {
      this.calls.push(request)
      const responder = this.#responders.get(request._)
      if (!responder) throw new NoResponderError(`no stub responder for ${request._}`)
      try {
        return await responder(request as never)
      } catch (error) {
        const wire = toWire(error)
        if (wire) return wire
        throw error
      }
    }
    this.#chain = (request, params) => {
      const context = { request, manager: this.mt.network, params } as Parameters<RpcCallMiddleware>[0]
      const run = (i: number, ctx: typeof context): Promise<unknown> =>
        i < middlewares.length
          ? (middlewares[i]!(ctx, (next) => run(i + 1, next)) as Promise<unknown>)
          : answer(ctx.request)
      return run(0, context)
    }
  }

  respondWith<M extends Method>(method: M, responder: StubResponder<M>): void {
    this.#responders.set(method, responder as (request: never) => unknown)
  }

  /** Methods called so far, by name. */
  callNames(): string[] {
    return this.calls.map((c) => c._)
  }

  /** The auth key (hex) this client presents; set on its first connection. */
  get authKey(): string | undefined {
    return this.#authKey
  }

  /** Connected, and not cut off by `dropConnection()`. */
  get isLive(): boolean {
    return this.#state === 'connected' && !this.destroyed
  }

  /** Delivers updates as if Telegram pushed them over the connection. */
  push(updates: tl.TypeUpdates): void {
    if (this.isLive && !this.#stalled) this.onServerUpdate.emit(updates)
  }

  /** A half-dead connection: calls still get answers, pushed updates never arrive (until it reconnects). */
  stall(): void {
    this.#stalled = true
  }

  /** The connection breaks as in a network failure: pushes stop until the next call reconnects. */
  dropConnection(): void {
    if (this.#state !== 'connected') return
    this.#state = 'dropped'
    this.#stalled = false
    this.onConnectionState.emit('connecting')
  }

  override async connect(): Promise<void> {
    await this.prepare()
    if (this.#state === 'connected') return
    this.#authKey ??= await this.exchangeKey()
    this.#state = 'connected'
    this.onLinkUp?.(this)
    this.onConnectionState.emit('connected')
  }

  override async disconnect(): Promise<void> {
    this.#state = 'offline'
    await super.disconnect()
  }

  override async call<T extends tl.RpcMethod>(
    message: T,
    params?: Parameters<BaseTelegramClient['call']>[1],
  ): Promise<tl.RpcCallReturn[T['_']]> {
    if (this.destroyed) throw new Error('Client is destroyed')
    if (this.#state !== 'connected') await this.connect()
    const result = await this.#chain(message, params)
    if (isWire(result)) throw tl.RpcError.fromTl(result)
    // What BaseTelegramClient.call does with every answer: remember the peers it carries.
    await this.storage.peers.updatePeersFrom(result as tl.TlObject)
    return result as tl.RpcCallReturn[T['_']]
  }

  override async getPoolSize(): Promise<number> {
    return 1
  }

  override async getPrimaryDcId(): Promise<number> {
    return 2
  }

  override async changePrimaryDc(): Promise<void> {}

  /** The stub server checks the password itself; SRP math is not what these tests are about. */
  override async computeSrpParams(
    _request: tl.account.RawPassword,
    password: string,
  ): Promise<tl.RawInputCheckPasswordSRP> {
    const bytes = new TextEncoder().encode(password)
    return { _: 'inputCheckPasswordSRP', srpId: Long.ZERO, A: bytes, M1: bytes }
  }

  /** The stored key of the primary DC, or a new one stored as mtcute's key exchange would. */
  private async exchangeKey(): Promise<string> {
    const keys = this.mt.storage.provider.authKeys
    let key = await keys.get(2)
    if (!key) {
      key = crypto.getRandomValues(new Uint8Array(256))
      await keys.set(2, key)
    }
    return Buffer.from(key).toString('hex')
  }
}
