/**
 * @module The `phone` login flow: phone number → code → (2FA password) → complete, over the sandbox's
 * send-code / sign-in / check-password. A wrong value keeps the step (`InvalidLoginInputError`); an expired
 * code sends a new one and asks for it again; a flood wait throws `LoginFloodWaitError` and keeps the step.
 * On success the session token and the update position go to the account's session store.
 */
import { InvalidLoginInputError, TransientNetworkError } from '../../bridge/errors.ts'
import { toLoginStepId, toRemoteUserId } from '../../bridge/ids.ts'
import type { LoginContext, LoginProcess, LoginStep, UserInputStep } from '../../bridge/login.ts'
import { type SandboxApi, SandboxApiError, type SandboxUser } from './api.ts'
import { floodSeconds, LoginFloodWaitError, loginTexts } from './errors.ts'
import { SESSION_KEYS } from './session.ts'

interface Authorization {
  session: string
  user: SandboxUser
}

type Stage = 'phone' | 'code' | 'password' | 'done' | 'cancelled'

const phoneStep: UserInputStep = {
  type: 'user-input',
  stepId: toLoginStepId('sandbox.phone.phone'),
  instructions: {
    ru: 'Введите номер телефона аккаунта в международном формате.',
    en: 'Enter the phone number of the account in international format.',
  },
  fields: [
    {
      id: 'phone',
      kind: 'phone',
      label: { ru: 'Телефон', en: 'Phone' },
      pattern: '^\\+?[0-9 ()-]{5,20}$',
    },
  ],
}

function codeStep(expired: boolean): UserInputStep {
  return {
    type: 'user-input',
    stepId: toLoginStepId('sandbox.phone.code'),
    instructions: expired
      ? loginTexts.codeExpired
      : { ru: 'Введите код, который пришёл в приложение.', en: 'Enter the code sent to the app.' },
    fields: [{ id: 'code', kind: 'code', label: { ru: 'Код', en: 'Code' }, pattern: '^[0-9]{5}$' }],
  }
}

function passwordStep(hint: string | undefined): UserInputStep {
  const ru = 'Аккаунт защищён паролем двухэтапной проверки. Введите его.'
  const en = 'The account has a two-step verification password. Enter it.'
  return {
    type: 'user-input',
    stepId: toLoginStepId('sandbox.phone.password'),
    instructions: hint ? { ru: `${ru} Подсказка: ${hint}`, en: `${en} Hint: ${hint}` } : { ru, en },
    fields: [{ id: 'password', kind: 'password', label: { ru: 'Пароль', en: 'Password' } }],
  }
}

export class PhoneLogin implements LoginProcess {
  private stage: Stage = 'phone'
  private phone = ''
  private phoneCodeHash = ''
  private hint: string | undefined

  constructor(
    private readonly api: SandboxApi,
    private readonly context: LoginContext,
  ) {}

  async start(): Promise<LoginStep> {
    this.stage = 'phone'
    return phoneStep
  }

  async submit(input: Readonly<Record<string, string>>): Promise<LoginStep> {
    switch (this.stage) {
      case 'phone':
        return this.submitPhone(input.phone ?? '')
      case 'code':
        return this.submitCode(input.code ?? '')
      case 'password':
        return this.submitPassword(input.password ?? '')
      default:
        throw new Error(`sandbox login: nothing to submit in stage ${this.stage}`)
    }
  }

  async wait(): Promise<LoginStep> {
    throw new Error('sandbox login: the phone flow has no display-and-wait step')
  }

  async cancel(): Promise<void> {
    // Nothing is held open between steps; an unused code simply expires at the sandbox.
    this.stage = 'cancelled'
  }

  private async submitPhone(phone: string): Promise<LoginStep> {
    const trimmed = phone.trim()
    if (!/^\+?[0-9 ()-]{5,20}$/.test(trimmed))
      throw new InvalidLoginInputError('phone', loginTexts.phoneInvalid)
    await this.sendCode(trimmed)
    return codeStep(false)
  }

  private async sendCode(phone: string): Promise<void> {
    try {
      const sent = await this.api.call<{ phoneCodeHash: string }>('POST', '/auth/send-code', {
        json: { phone },
        signal: this.context.signal,
      })
      this.phone = phone
      this.phoneCodeHash = sent.phoneCodeHash
      this.stage = 'code'
    } catch (error) {
      if (error instanceof SandboxApiError && error.error === 'PHONE_NUMBER_INVALID') {
        throw new InvalidLoginInputError('phone', loginTexts.phoneInvalid)
      }
      throw loginError(error)
    }
  }

  private async submitCode(code: string): Promise<LoginStep> {
    try {
      const auth = await this.api.call<Authorization>('POST', '/auth/sign-in', {
        json: { phone: this.phone, phoneCodeHash: this.phoneCodeHash, code: code.trim() },
        signal: this.context.signal,
      })
      return await this.complete(auth)
    } catch (error) {
      if (!(error instanceof SandboxApiError)) throw loginError(error)
      switch (error.error) {
        case 'SESSION_PASSWORD_NEEDED':
          this.stage = 'password'
          this.hint = error.hint
          return passwordStep(this.hint)
        case 'PHONE_CODE_INVALID':
        case 'PHONE_CODE_EMPTY':
          throw new InvalidLoginInputError('code', loginTexts.codeInvalid)
        case 'PHONE_CODE_EXPIRED':
          return this.resend()
        case 'PHONE_NUMBER_INVALID':
          this.stage = 'phone'
          return { ...phoneStep, instructions: loginTexts.phoneInvalid }
        default:
          throw loginError(error)
      }
    }
  }

  private async submitPassword(password: string): Promise<LoginStep> {
    try {
      const auth = await this.api.call<Authorization>('POST', '/auth/check-password', {
        json: { phoneCodeHash: this.phoneCodeHash, password },
        signal: this.context.signal,
      })
      return await this.complete(auth)
    } catch (error) {
      if (!(error instanceof SandboxApiError)) throw loginError(error)
      if (error.error === 'PASSWORD_HASH_INVALID') {
        throw new InvalidLoginInputError('password', loginTexts.passwordInvalid)
      }
      // The pending 2FA step timed out: start over from a new code.
      if (error.error === 'PHONE_CODE_EXPIRED' || error.error === 'PHONE_CODE_EMPTY') return this.resend()
      throw loginError(error)
    }
  }

  /** An expired code: ask for a new one at once, so the user need not type the phone again. */
  private async resend(): Promise<LoginStep> {
    await this.sendCode(this.phone)
    return codeStep(true)
  }

  private async complete(auth: Authorization): Promise<LoginStep> {
    const { session } = this.context
    await session.set(SESSION_KEYS.token, auth.session)
    // A re-login of a known account goes on from where it stopped (the sandbox numbers updates per
    // account, like Telegram's pts); a new one starts at the present, like Telegram's updates.getState.
    if ((await session.get(SESSION_KEYS.seq)) === undefined) {
      const now = await this.api.call<{ seq: number }>(
        'GET',
        `/updates?after=${Number.MAX_SAFE_INTEGER}&limit=1`,
        { token: auth.session, signal: this.context.signal },
      )
      await session.set(SESSION_KEYS.seq, String(now.seq))
    }
    this.stage = 'done'
    const { user } = auth
    return {
      type: 'complete',
      stepId: toLoginStepId('sandbox.phone.complete'),
      instructions: { ru: `Вход выполнен: ${user.name}.`, en: `Logged in as ${user.name}.` },
      account: {
        remoteId: toRemoteUserId(String(user.id)),
        displayName: user.name,
        phone: user.phone,
        ...(user.username === undefined ? {} : { username: user.username }),
      },
    }
  }
}

function loginError(error: unknown): Error {
  if (error instanceof SandboxApiError) {
    const seconds = floodSeconds(error)
    if (seconds !== undefined) return new LoginFloodWaitError(seconds, { cause: error })
    if (error.status >= 500) return new TransientNetworkError(error.message, { cause: error })
  }
  return error instanceof Error ? error : new Error(String(error))
}
