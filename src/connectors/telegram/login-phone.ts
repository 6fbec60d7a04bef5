/**
 * @module The `phone` login flow: phone → code (resend once its timeout has passed, or at once when it
 * expired) → 2FA password with its hint → complete, over mtcute's `sendCode` / `resendCode` / `signIn` /
 * `checkPassword` (never its interactive `start()`). A wrong value keeps the step (`InvalidLoginInputError`);
 * `AUTH_RESTART` goes back to the phone step; flood waits throw `LoginFloodWaitError` and keep the step.
 */
import type { SentCode, User } from '@mtcute/core'
import type { TelegramClient } from '@mtcute/core/client.js'
import { InvalidLoginInputError } from '../../bridge/errors.ts'
import { toLoginStepId } from '../../bridge/ids.ts'
import type {
  LocalizedText,
  LoginContext,
  LoginProcess,
  LoginStep,
  UserInputStep,
} from '../../bridge/login.ts'
import {
  commonLoginError,
  completeLogin,
  isRpc,
  type LoginAttempts,
  type LoginClient,
  type LoginClients,
  normalizePhone,
  passwordStep,
} from './login-common.ts'
import { loginTexts } from './login-texts.ts'

type Stage = 'phone' | 'code' | 'password' | 'done' | 'cancelled'

const phoneStep = (instructions: LocalizedText = loginTexts.phonePrompt): UserInputStep => ({
  type: 'user-input',
  stepId: toLoginStepId('telegram.phone'),
  instructions,
  fields: [
    { id: 'phone', kind: 'phone', label: { ru: 'Телефон', en: 'Phone' }, pattern: '^\\+?[0-9 ()-]{5,24}$' },
  ],
})

interface PendingCode {
  hash: string
  type: SentCode['type']
  length: number
  /** When `resendCode` may be called (epoch ms). */
  resendAt: number
}

export class TelegramPhoneLogin implements LoginProcess {
  private stage: Stage = 'phone'
  private phone = ''
  private code: PendingCode | undefined
  private client: LoginClient | undefined

  constructor(
    private readonly context: LoginContext,
    private readonly clients: LoginClients,
    private readonly attempts: LoginAttempts,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<LoginStep> {
    this.stage = 'phone'
    return phoneStep()
  }

  async submit(input: Readonly<Record<string, string>>): Promise<LoginStep> {
    switch (this.stage) {
      case 'phone':
        return this.submitPhone(input.phone ?? '')
      case 'code':
        return input.resend ? this.resend(false) : this.submitCode(input.code ?? '')
      case 'password':
        return this.submitPassword(input.password ?? '')
      default:
        throw new Error(`telegram login: nothing to submit in stage ${this.stage}`)
    }
  }

  async wait(): Promise<LoginStep> {
    throw new Error('telegram login: the phone flow has no display-and-wait step')
  }

  async cancel(): Promise<void> {
    this.stage = 'cancelled'
    await this.close()
  }

  private opened(): LoginClient {
    this.client ??= this.clients.open()
    return this.client
  }

  private tg(): TelegramClient {
    return this.opened().tg
  }

  private async submitPhone(input: string): Promise<LoginStep> {
    const phone = normalizePhone(input)
    if (!phone) throw new InvalidLoginInputError('phone', loginTexts.phoneInvalid)
    this.attempts.take(phone)
    let sent: SentCode | User
    try {
      sent = await this.tg().sendCode({ phone, abortSignal: this.context.signal })
    } catch (error) {
      if (isRpc(error, 'PHONE_NUMBER_INVALID'))
        throw new InvalidLoginInputError('phone', loginTexts.phoneInvalid)
      if (isRpc(error, 'PHONE_NUMBER_BANNED'))
        throw new InvalidLoginInputError('phone', loginTexts.phoneBanned)
      if (isRpc(error, 'PHONE_NUMBER_UNOCCUPIED')) {
        throw new InvalidLoginInputError('phone', loginTexts.phoneUnregistered)
      }
      if (isRpc(error, 'AUTH_RESTART')) return this.restart()
      throw commonLoginError(error) ?? error
    }
    this.phone = phone
    // A future-auth token logged in directly (auth.sentCodeSuccess).
    if (!('phoneCodeHash' in sent)) return this.complete(sent)
    return this.codeStep(sent, false)
  }

  private codeStep(sent: SentCode, expired: boolean): UserInputStep {
    this.stage = 'code'
    this.code = {
      hash: sent.phoneCodeHash,
      type: sent.type,
      length: sent.length,
      resendAt: this.now() + sent.timeout * 1000,
    }
    const via = sent.type === 'app' ? 'app' : sent.type === 'sms' ? 'sms' : 'other'
    const length = sent.length > 0 ? `{${sent.length}}` : '{4,8}'
    return {
      type: 'user-input',
      stepId: toLoginStepId('telegram.code'),
      instructions: expired ? loginTexts.codeExpired : loginTexts.codePrompt(via, sent.timeout),
      fields: [{ id: 'code', kind: 'code', label: { ru: 'Код', en: 'Code' }, pattern: `^[0-9]${length}$` }],
    }
  }

  private async submitCode(input: string): Promise<LoginStep> {
    const code = input.replace(/\s/g, '')
    if (!/^[0-9]{4,8}$/.test(code)) throw new InvalidLoginInputError('code', loginTexts.codeInvalid)
    try {
      const user = await this.tg().signIn({
        phone: this.phone,
        phoneCodeHash: this.code!.hash,
        phoneCode: code,
        abortSignal: this.context.signal,
      })
      return await this.complete(user)
    } catch (error) {
      if (isRpc(error, 'SESSION_PASSWORD_NEEDED')) {
        this.stage = 'password'
        return passwordStep(await this.tg().getPasswordHint())
      }
      if (isRpc(error, 'PHONE_CODE_INVALID') || isRpc(error, 'PHONE_CODE_EMPTY')) {
        throw new InvalidLoginInputError('code', loginTexts.codeInvalid)
      }
      if (isRpc(error, 'PHONE_CODE_EXPIRED')) return this.resend(true)
      if (isRpc(error, 'PHONE_NUMBER_UNOCCUPIED') || (error as Error).message?.includes('Signup')) {
        return this.restart(loginTexts.phoneUnregistered)
      }
      if (isRpc(error, 'AUTH_RESTART') || isRpc(error, 'PHONE_CODE_HASH_EMPTY')) return this.restart()
      throw commonLoginError(error) ?? error
    }
  }

  /** A new code: asked by the user (after the timeout) or because the last one expired. */
  private async resend(expired: boolean): Promise<LoginStep> {
    const wait = Math.ceil(((this.code?.resendAt ?? 0) - this.now()) / 1000)
    if (!expired && wait > 0) throw new InvalidLoginInputError('code', loginTexts.resendTooEarly(wait))
    this.attempts.take(this.phone)
    try {
      const sent = expired
        ? await this.tg().sendCode({ phone: this.phone, abortSignal: this.context.signal })
        : await this.tg().resendCode({
            phone: this.phone,
            phoneCodeHash: this.code!.hash,
            abortSignal: this.context.signal,
          })
      if (!('phoneCodeHash' in sent)) return this.complete(sent)
      return this.codeStep(sent, expired)
    } catch (error) {
      if (isRpc(error, 'AUTH_RESTART') || isRpc(error, 'PHONE_CODE_EXPIRED')) return this.restart()
      throw commonLoginError(error) ?? error
    }
  }

  private async submitPassword(password: string): Promise<LoginStep> {
    if (password === '') throw new InvalidLoginInputError('password', loginTexts.passwordInvalid)
    try {
      return await this.complete(
        await this.tg().checkPassword({ password, abortSignal: this.context.signal }),
      )
    } catch (error) {
      if (isRpc(error, 'PASSWORD_HASH_INVALID')) {
        throw new InvalidLoginInputError('password', loginTexts.passwordInvalid)
      }
      if (isRpc(error, 'AUTH_RESTART')) return this.restart()
      throw commonLoginError(error) ?? error
    }
  }

  private restart(instructions: LocalizedText = loginTexts.authRestart): UserInputStep {
    this.stage = 'phone'
    this.code = undefined
    return phoneStep(instructions)
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
    await client?.tg.destroy().catch(() => {})
  }
}
