/**
 * @module The `token` login flow: the admin pastes the bot token, `GET /me` checks it (reference §3.1) and
 * names the bot. A token MAX refuses keeps the step with a ru/en explanation. On success the token becomes
 * the account's sealed `credentials` and the bot's profile goes to the session (the client tells the bot's
 * own messages apart with it).
 */
import type * as v from 'valibot'
import { InvalidLoginInputError } from '../../bridge/errors.ts'
import { toLoginStepId, toRemoteUserId } from '../../bridge/ids.ts'
import type { LoginContext, LoginProcess, LoginStep, UserInputStep } from '../../bridge/login.ts'
import { MaxApiError, type MaxHttp } from './api.ts'
import { floodSeconds, LoginFloodWaitError, loginTexts, toBridgeError } from './errors.ts'
import { botName } from './own-profile.ts'
import { BotInfo } from './schemas.ts'
import { type BotProfile, SESSION_KEYS } from './session.ts'

/** Printable, no spaces; MAX does not document the format, so only the shape of a header value is checked. */
const TOKEN_SHAPE = /^[\x21-\x7e]{16,512}$/

const tokenStep: UserInputStep = {
  type: 'user-input',
  stepId: toLoginStepId('max.token.token'),
  instructions: loginTexts.tokenMissing,
  fields: [
    {
      id: 'token',
      kind: 'token',
      label: { ru: 'Токен бота', en: 'Bot token' },
      pattern: TOKEN_SHAPE.source,
    },
  ],
}

export class TokenLogin implements LoginProcess {
  private done = false

  constructor(
    private readonly http: MaxHttp,
    private readonly context: LoginContext,
  ) {}

  async start(): Promise<LoginStep> {
    return tokenStep
  }

  async submit(input: Readonly<Record<string, string>>): Promise<LoginStep> {
    if (this.done) throw new Error('max login: already complete')
    const token = (input.token ?? '').trim()
    if (!TOKEN_SHAPE.test(token)) throw new InvalidLoginInputError('token', loginTexts.tokenMissing)
    let me: v.InferOutput<typeof BotInfo>
    try {
      me = await this.http.api(token).call('GET', '/me', BotInfo, { signal: this.context.signal })
    } catch (error) {
      if (error instanceof MaxApiError && (error.status === 401 || error.status === 403)) {
        throw new InvalidLoginInputError('token', loginTexts.tokenRejected)
      }
      if (error instanceof MaxApiError && error.status === 429) {
        throw new LoginFloodWaitError(floodSeconds(error), { cause: error })
      }
      throw toBridgeError(error)
    }
    if (!me.is_bot) throw new InvalidLoginInputError('token', loginTexts.notABot)
    const name = botName(me)
    const profile: BotProfile = {
      userId: me.user_id,
      name,
      ...(me.username ? { username: me.username } : {}),
      ...(me.full_avatar_url || me.avatar_url ? { avatarUrl: (me.full_avatar_url ?? me.avatar_url)! } : {}),
    }
    await this.context.session.set(SESSION_KEYS.bot, JSON.stringify(profile))
    this.done = true
    const handle = me.username ? ` (@${me.username})` : ''
    return {
      type: 'complete',
      stepId: toLoginStepId('max.token.complete'),
      instructions: { ru: `Бот «${name}»${handle} подключён.`, en: `Bot “${name}”${handle} is connected.` },
      account: {
        remoteId: toRemoteUserId(String(me.user_id)),
        displayName: name,
        ...(me.username ? { username: me.username } : {}),
        credentials: token,
      },
    }
  }

  async wait(): Promise<LoginStep> {
    throw new Error('max login: the token flow has no display-and-wait step')
  }

  async cancel(): Promise<void> {
    // Nothing is held open: the token was only used for one GET.
    this.done = true
  }
}
