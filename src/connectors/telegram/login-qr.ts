/**
 * @module The `qr` login flow: a `tg://login?token=…` QR code, refreshed whenever Telegram's token expires,
 * until a logged-in phone scans it (Telegram then pushes `updateLoginToken`); then the 2FA password if the
 * account has one. Raw `auth.exportLoginToken` / `auth.importLoginToken` calls rather than mtcute's
 * `signInQr`, so each refresh and the password are steps the panel drives (reference §2.3).
 */
import { type tl, User } from '@mtcute/core'
import type { TelegramClient } from '@mtcute/core/client.js'
import { InvalidLoginInputError } from '../../bridge/errors.ts'
import { toLoginStepId } from '../../bridge/ids.ts'
import type { DisplayAndWaitStep, LoginContext, LoginProcess, LoginStep } from '../../bridge/login.ts'
import {
  commonLoginError,
  completeLogin,
  isRpc,
  type LoginClient,
  type LoginClients,
  passwordStep,
} from './login-common.ts'
import { loginTexts } from './login-texts.ts'

type Stage = 'qr' | 'password' | 'done' | 'cancelled'

export class TelegramQrLogin implements LoginProcess {
  private stage: Stage = 'qr'
  private client: LoginClient | undefined
  private expiresAt = 0
  private scanned = false
  private wake: (() => void) | undefined
  private readonly onUpdate = (update: tl.TypeUpdates) => {
    if (update._ === 'updateShort' && update.update._ === 'updateLoginToken') {
      this.scanned = true
      this.wake?.()
    }
  }

  constructor(
    private readonly context: LoginContext,
    private readonly clients: LoginClients,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<LoginStep> {
    this.client ??= this.clients.open()
    this.client.tg.onServerUpdate.add(this.onUpdate)
    return this.exportToken()
  }

  async submit(input: Readonly<Record<string, string>>): Promise<LoginStep> {
    if (this.stage !== 'password')
      throw new Error(`telegram qr login: nothing to submit in stage ${this.stage}`)
    const password = input.password ?? ''
    if (password === '') throw new InvalidLoginInputError('password', loginTexts.passwordInvalid)
    try {
      return await this.complete(
        await this.tg().checkPassword({ password, abortSignal: this.context.signal }),
      )
    } catch (error) {
      if (isRpc(error, 'PASSWORD_HASH_INVALID')) {
        throw new InvalidLoginInputError('password', loginTexts.passwordInvalid)
      }
      throw commonLoginError(error) ?? error
    }
  }

  /** Resolves when the code was scanned or has expired: with the next step (a fresh code, or further). */
  async wait(): Promise<LoginStep> {
    if (this.stage !== 'qr') throw new Error(`telegram qr login: nothing to wait for in stage ${this.stage}`)
    if (!this.scanned) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, this.expiresAt - this.now()))
        const onAbort = () => done()
        this.context.signal.addEventListener('abort', onAbort, { once: true })
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.wake = () => {
          this.context.signal.removeEventListener('abort', onAbort)
          done()
        }
      })
      this.wake = undefined
    }
    this.context.signal.throwIfAborted()
    return this.exportToken()
  }

  async cancel(): Promise<void> {
    this.stage = 'cancelled'
    await this.close()
  }

  private opened(): LoginClient {
    if (!this.client) throw new Error('telegram qr login: not started')
    return this.client
  }

  private tg(): TelegramClient {
    return this.opened().tg
  }

  /** Asks for the token again: a fresh code to show, or the login result once it was scanned. */
  private async exportToken(): Promise<LoginStep> {
    const tg = this.tg()
    const { id, hash } = await tg.getApiCredentials()
    let result: tl.auth.TypeLoginToken
    try {
      result = await tg.call(
        { _: 'auth.exportLoginToken', apiId: id, apiHash: hash, exceptIds: [] },
        { abortSignal: this.context.signal },
      )
      if (result._ === 'auth.loginTokenMigrateTo') {
        await tg.changePrimaryDc(result.dcId)
        result = await tg.call({ _: 'auth.importLoginToken', token: result.token })
      }
    } catch (error) {
      if (isRpc(error, 'SESSION_PASSWORD_NEEDED')) {
        this.stage = 'password'
        return passwordStep(await tg.getPasswordHint())
      }
      throw commonLoginError(error) ?? error
    }
    if (result._ === 'auth.loginToken') return this.display(result)
    if (result._ !== 'auth.loginTokenSuccess') throw new Error(`telegram qr login: unexpected ${result._}`)
    const [self] = await tg.call({ _: 'users.getUsers', id: [{ _: 'inputUserSelf' }] })
    if (self?._ !== 'user') throw new Error('telegram qr login: no user after the token was accepted')
    await tg.notifyLoggedIn(self)
    return this.complete(new User(self))
  }

  private display(token: tl.auth.RawLoginToken): DisplayAndWaitStep {
    this.scanned = false
    this.expiresAt = token.expires * 1000
    return {
      type: 'display-and-wait',
      stepId: toLoginStepId('telegram.qr'),
      instructions: loginTexts.qrPrompt,
      displayData: { kind: 'qr', data: `tg://login?token=${Buffer.from(token.token).toString('base64url')}` },
      expiresAt: new Date(this.expiresAt),
    }
  }

  private async complete(user: User): Promise<LoginStep> {
    this.stage = 'done'
    const step = await completeLogin(this.context, user, this.clients.device, this.opened())
    await this.close()
    return step
  }

  private async close(): Promise<void> {
    const client = this.client
    this.client = undefined
    client?.tg.onServerUpdate.remove(this.onUpdate)
    await client?.tg.destroy().catch(() => {})
  }
}
