/**
 * @module Entry point of the MAX Bot API emulator: `startMaxEmulator(options)` starts one Bun HTTP server
 * (127.0.0.1, port 0 by default) that is at once the Bot API (`/me`, `/messages`, `/updates`, …, reference §3–§6),
 * the upload host (`/_upload/…`), the media CDN (`/_files/…`) and the control API (`/_emulator/…`), and returns a
 * handle whose methods are the control API in-process (the `MaxEmulator` of testkit.ts).
 */
import type { Server } from 'bun'
import { handleBotApi } from './bot-api.ts'
import { handleControl } from './control-api.ts'
import {
  injectUpdate,
  userDeletes,
  userEdits,
  userPressesButton,
  userRemovesDialog,
  userSends,
  userStartsBot,
  userStopsBot,
} from './customer.ts'
import { handleUpload, serveFile } from './files.ts'
import { json } from './json.ts'
import type {
  BotMessage,
  MaxEmulator,
  MaxEmulatorFaults,
  MaxEmulatorOptions,
  UserSendInput,
  WebhookPolicy,
} from './testkit.ts'
import { wake } from './updates.ts'
import { removeSubscription } from './webhook.ts'
import { World } from './world.ts'

export type { BotMessage, MaxEmulator, MaxEmulatorOptions, UserSendInput } from './testkit.ts'

export interface MaxEmulatorSettings {
  rateLimitPerSecond?: number | null
  pollRateLimitPerSecond?: number | null
  webhook?: Partial<WebhookPolicy>
  notReadyAttempts?: number
  noMarker?: 'uncommitted' | 'latest'
  requireHttpsWebhooks?: boolean
  editWindowMs?: number
}

export class MaxEmulatorServer implements MaxEmulator {
  readonly world: World
  readonly faults: MaxEmulatorFaults
  private readonly server: Server<undefined>

  constructor(options: MaxEmulatorOptions) {
    const world = new World(options)
    this.world = world
    this.server = Bun.serve({
      hostname: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      // Long polls hold up to 90 s (reference §4.1).
      idleTimeout: 120,
      maxRequestBodySize: 300 * 1024 * 1024,
      fetch: async (req) => {
        const url = new URL(req.url)
        const path = url.pathname
        try {
          if (path === '/_emulator' || path.startsWith('/_emulator/'))
            return await handleControl(this, req, url)
          if (path.startsWith('/_upload/'))
            return await handleUpload(world, req, path.slice('/_upload/'.length))
          if (path.startsWith('/_files/')) return serveFile(world, path)
          return await handleBotApi(world, req, url)
        } catch (e) {
          console.error('max emulator: request failed', req.method, path, e)
          return json(500, { code: 'internal.error', message: String(e) })
        }
      },
    })
    world.baseUrl = `http://${this.server.hostname}:${this.server.port}`
    this.faults = {
      rateLimit: (requests) => {
        world.faults.rateLimitStorm = requests
      },
      attachmentNotReady: (sends) => {
        world.faults.notReadySends = sends
      },
      failNext: (code = 'Injected failure') => {
        world.faults.failNext.push(code)
      },
      revokeToken: (token) => {
        world.bot(token).revoked = true
      },
      serverError: (requests, status = 500) => {
        world.faults.serverErrors = { left: requests, status }
      },
      duplicateDeliveries: (deliveries) => {
        world.faults.duplicateDeliveries = deliveries
      },
      clear: () => world.faults.clear(),
    }
  }

  get url(): string {
    return this.world.baseUrl
  }

  get controlUrl(): string {
    return `${this.world.baseUrl}/_emulator`
  }

  info() {
    return { url: this.url, control: this.controlUrl }
  }

  async close(): Promise<void> {
    this.world.closed = true
    for (const bot of this.world.bots.values()) {
      for (const sub of [...bot.subscriptions]) removeSubscription(this.world, bot, sub)
      wake(bot)
    }
    await this.server.stop(true)
  }

  createBot(input: { name?: string; username?: string } = {}) {
    const bot = this.world.createBot(input)
    return {
      token: bot.token,
      botUserId: bot.person.userId,
      name: bot.person.firstName,
      username: bot.person.username,
    }
  }

  /** The owner edits the bot in its settings (business.max.ru, reference §1): name, username, a new photo or none. */
  ownerEditsBot(token: string, input: { name?: string; username?: string; photo?: 'new' | 'none' }) {
    const person = this.world.bot(token).person
    if (input.name !== undefined) person.firstName = input.name
    if (input.username !== undefined) person.username = input.username
    if (input.photo === 'new') person.photoId = this.world.newPhotoId()
    if (input.photo === 'none') person.photoId = null
    return { botUserId: person.userId, name: person.firstName, username: person.username }
  }

  createUser(input: { name?: string; lastName?: string; username?: string } = {}) {
    const [first, ...rest] = (input.name ?? 'Ivan Petrov').split(' ')
    const person = this.world.createPerson({
      firstName: first || 'Ivan',
      lastName: input.lastName ?? (rest.join(' ') || undefined),
      username: input.username,
      isBot: false,
    })
    return { userId: person.userId, name: [person.firstName, person.lastName].filter(Boolean).join(' ') }
  }

  async userSends(token: string, userId: number, input: UserSendInput) {
    return userSends(this.world, token, userId, input)
  }

  async userEdits(token: string, userId: number, mid: string, text: string) {
    userEdits(this.world, token, userId, mid, text)
  }

  async userDeletes(token: string, userId: number, mid: string) {
    userDeletes(this.world, token, userId, mid)
  }

  async userStartsBot(token: string, userId: number, payload?: string) {
    return userStartsBot(this.world, token, userId, payload)
  }

  async userStopsBot(token: string, userId: number) {
    userStopsBot(this.world, token, userId)
  }

  async userRemovesDialog(token: string, userId: number) {
    userRemovesDialog(this.world, token, userId)
  }

  /** The user presses a callback button of a bot message; returns the `callback_id`. */
  async userPressesButton(token: string, userId: number, mid: string, payload: string) {
    return userPressesButton(this.world, token, userId, mid, payload)
  }

  injectUpdate(token: string, update: Record<string, unknown>): void {
    injectUpdate(this.world, token, update)
  }

  botMessages(token: string, chatId: number): BotMessage[] {
    const bot = this.world.bot(token)
    const dialog = this.world.dialogs.get(chatId)
    if (!dialog || dialog.bot !== bot) return []
    return dialog.messages
      .filter((m) => m.fromBot)
      .map((m) => ({
        mid: m.mid,
        chatId,
        text: m.text ?? '',
        ...(m.format ? { format: m.format } : {}),
        attachments: m.attachments.map((a) => ({
          type: a.type,
          ...(a.file ? { name: a.file.name, mime: a.file.mime, bytes: a.file.bytes } : {}),
          ...(a.token ? { token: a.token } : {}),
          raw: a.request,
        })),
        ...(m.link ? { link: m.link } : {}),
        notify: m.notify,
        edited: m.edited,
        deleted: m.deleted,
        sentAt: m.sentAt,
        ...(m.editedAt ? { editedAt: m.editedAt } : {}),
      }))
  }

  dialogId(token: string, userId: number): number | undefined {
    return this.world.bot(token).dialogsByUser.get(userId)?.chatId
  }

  /** Every dialog of a bot with its status and the chat actions (typing…) the bot sent. */
  dialogs(token: string) {
    return [...this.world.bot(token).dialogsByUser.values()].map((d) => ({
      chatId: d.chatId,
      userId: d.user.userId,
      status: d.status,
      actions: [...d.actions],
    }))
  }

  /** The bot's webhook subscriptions as the emulator holds them (with the secret). */
  subscriptions(token: string) {
    return this.world.bot(token).subscriptions.map((s) => ({
      url: s.url,
      secret: s.secret,
      updateTypes: s.updateTypes,
      failingSince: s.failingSince,
      pendingRetries: s.timers.size,
    }))
  }

  configure(settings: MaxEmulatorSettings): void {
    const s = this.world.settings
    if (settings.rateLimitPerSecond !== undefined) this.world.limiter.set(settings.rateLimitPerSecond)
    if (settings.pollRateLimitPerSecond !== undefined) {
      this.world.pollLimiter.set(settings.pollRateLimitPerSecond)
      s.pollRateLimitPerSecond = settings.pollRateLimitPerSecond
    }
    if (settings.webhook) s.webhook = { ...s.webhook, ...settings.webhook }
    if (settings.notReadyAttempts !== undefined) s.notReadyAttempts = settings.notReadyAttempts
    if (settings.noMarker !== undefined) s.noMarker = settings.noMarker
    if (settings.requireHttpsWebhooks !== undefined) s.requireHttpsWebhooks = settings.requireHttpsWebhooks
    if (settings.editWindowMs !== undefined) s.editWindowMs = settings.editWindowMs
  }

  stats(): Record<string, number> {
    return this.world.stats.snapshot()
  }

  resetStats(): void {
    this.world.stats.reset()
  }
}

export async function startMaxEmulator(options: MaxEmulatorOptions = {}): Promise<MaxEmulatorServer> {
  return new MaxEmulatorServer(options)
}
