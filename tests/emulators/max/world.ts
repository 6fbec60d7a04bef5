/**
 * @module The emulator's state: people, bots, dialogs, stored files, uploads, counters, faults and settings.
 * Ids follow reference §2.6: user and dialog ids are positive int64 (kept below 2^53 here), mids are strings
 * `mid.<hex>`, and `seq` starts above 2^53 on purpose.
 */
import { Faults, RateLimiter } from './faults.ts'
import { Stats } from './stats.ts'
import type { MaxEmulatorOptions, WebhookPolicy } from './testkit.ts'
import type { Bot, Dialog, Person, StoredFile, StoredMessage, Upload, UploadedMedia } from './types.ts'

export interface Settings {
  pollRateLimitPerSecond: number | null
  webhook: WebhookPolicy
  noMarker: 'uncommitted' | 'latest'
  requireHttpsWebhooks: boolean
  notReadyAttempts: number
  editWindowMs: number
  updateTtlMs: number
}

const HOUR = 3_600_000

export const DEFAULT_WEBHOOK: WebhookPolicy = {
  // Reference §4.2: retries at 60 s, 150 s, 375 s, … (×2.5), up to 10; unsubscribed after 8 h without a 200.
  firstRetryMs: 60_000,
  retryFactor: 2.5,
  maxRetries: 10,
  unsubscribeAfterMs: 8 * HOUR,
  timeoutMs: 30_000,
}

export class World {
  baseUrl = ''
  readonly stats = new Stats()
  readonly faults = new Faults()
  readonly limiter: RateLimiter
  readonly pollLimiter: RateLimiter
  readonly settings: Settings
  readonly people = new Map<number, Person>()
  readonly bots = new Map<string, Bot>()
  readonly dialogs = new Map<number, Dialog>()
  readonly messages = new Map<string, StoredMessage>()
  readonly files = new Map<string, StoredFile>()
  readonly uploads = new Map<string, Upload>()
  readonly media = new Map<string, UploadedMedia>()
  readonly callbacks = new Map<string, { message: StoredMessage; user: Person; answered: unknown[] }>()
  closed = false
  private nextUser = 100_000_001
  private nextBot = 229_000_001
  private nextDialog = 182_000_001
  private nextPhoto = 9_000_000_001
  private nextSeq = 116_327_994_376_978_687n

  constructor(options: MaxEmulatorOptions) {
    this.limiter = new RateLimiter(options.rateLimitPerSecond === undefined ? 30 : options.rateLimitPerSecond)
    this.pollLimiter = new RateLimiter(
      options.pollRateLimitPerSecond === undefined ? 2 : options.pollRateLimitPerSecond,
    )
    this.settings = {
      pollRateLimitPerSecond: this.pollLimiter.perSecond,
      webhook: { ...DEFAULT_WEBHOOK, ...options.webhook },
      noMarker: options.noMarker ?? 'uncommitted',
      requireHttpsWebhooks: options.requireHttpsWebhooks ?? false,
      notReadyAttempts: options.notReadyAttempts ?? 1,
      // Reference §5.2: dialog messages are editable for 7 days.
      editWindowMs: options.editWindowMs ?? 7 * 24 * HOUR,
      // Reference §2.4: long-polling events live 24 h.
      updateTtlMs: options.updateTtlMs ?? 24 * HOUR,
    }
  }

  createPerson(input: { firstName: string; lastName?: string; username?: string; isBot: boolean }): Person {
    const userId = input.isBot ? this.nextBot++ : this.nextUser++
    const person: Person = {
      userId,
      firstName: input.firstName,
      lastName: input.lastName ?? null,
      username: input.username ?? null,
      isBot: input.isBot,
      lastActivityTime: Date.now(),
      description: null,
      photoId: this.nextPhoto++,
    }
    this.people.set(userId, person)
    return person
  }

  createBot(input: { name?: string; username?: string }): Bot {
    const person = this.createPerson({
      firstName: input.name ?? `Bot ${this.nextBot - 229_000_000}`,
      username: input.username,
      isBot: true,
    })
    person.username ??= `bot${person.userId}`
    person.description = 'MAX emulator bot'
    const token = `${crypto.randomUUID().replaceAll('-', '')}${crypto.randomUUID().replaceAll('-', '')}`
    const bot: Bot = {
      person,
      token,
      revoked: false,
      commands: [],
      queue: [],
      nextPosition: 1,
      committed: 1,
      pollWaiters: new Set(),
      subscriptions: [],
      dialogsByUser: new Map(),
    }
    this.bots.set(token, bot)
    return bot
  }

  /** The bot of a token the control side names; throws for an unknown one (revoked still counts). */
  bot(token: string): Bot {
    const bot = this.bots.get(token)
    if (!bot) throw new Error('unknown bot token')
    return bot
  }

  person(userId: number): Person {
    const person = this.people.get(userId)
    if (!person || person.isBot) throw new Error(`unknown user ${userId}`)
    return person
  }

  /** The dialog of a bot and a user, opened on first contact. */
  dialog(bot: Bot, user: Person): Dialog {
    let dialog = bot.dialogsByUser.get(user.userId)
    if (!dialog) {
      dialog = {
        chatId: this.nextDialog++,
        bot,
        user,
        status: 'active',
        lastEventTime: Date.now(),
        messages: [],
        actions: [],
      }
      bot.dialogsByUser.set(user.userId, dialog)
      this.dialogs.set(dialog.chatId, dialog)
    }
    return dialog
  }

  newMid(): string {
    const bytes = crypto.getRandomValues(new Uint8Array(16))
    return `mid.${Buffer.from(bytes).toString('hex')}`
  }

  newSeq(): bigint {
    return this.nextSeq++
  }

  newPhotoId(): number {
    return this.nextPhoto++
  }

  newToken(): string {
    return Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64url')
  }

  storeFile(name: string, mime: string, bytes: Uint8Array): StoredFile {
    const id = crypto.randomUUID()
    const file: StoredFile = {
      id,
      name,
      mime,
      bytes,
      url: `${this.baseUrl}/_files/${id}/${encodeURIComponent(name)}`,
    }
    this.files.set(id, file)
    return file
  }

  /** Changes with the photo, like MAX's `…/i?r=<photo>` (reference §3.1). */
  avatarUrl(person: Person, full = false): string {
    return `${this.baseUrl}/_files/avatar/${person.userId}?r=${person.photoId}${full ? '&full=1' : ''}`
  }
}

/** `User` (reference §4.4); `name` is deprecated but still sent (Go fixtures). */
export function userJson(person: Person): Record<string, unknown> {
  return {
    user_id: person.userId,
    first_name: person.firstName,
    last_name: person.lastName,
    username: person.username,
    is_bot: person.isBot,
    last_activity_time: person.lastActivityTime,
    name: [person.firstName, person.lastName].filter(Boolean).join(' '),
  }
}

/** `UserWithPhoto` (reference §7). */
export function userWithPhotoJson(world: World, person: Person): Record<string, unknown> {
  return {
    ...userJson(person),
    description: person.description,
    ...(person.photoId === null
      ? {}
      : { avatar_url: world.avatarUrl(person), full_avatar_url: world.avatarUrl(person, true) }),
  }
}
