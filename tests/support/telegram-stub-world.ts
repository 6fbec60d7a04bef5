/**
 * Telegram's server side for the stub client (`telegram-stub.ts`), modelled on the reference
 * (`telegram-mtcute.md` §1.5 sessions, §2 login, §3 updates, §4 sending, §5 files, §7 errors) and the
 * Telegram API rules it cites. This file: users and accounts, authorizations bound to auth keys (a revoked
 * or logged-out key answers 401 `AUTH_KEY_UNREGISTERED`, one key live on two connections at once is killed
 * with 406 `AUTH_KEY_DUPLICATED` — §1.5, §2.6), the login wizard (codes per phone with hash and timeout, 2FA
 * with a hint, QR tokens confirmed by a logged-in device — §2.1–2.3), one pts sequence per account with
 * `getDifference` (§3.4), and injectable faults (errors, flood waits, answers lost before or after the work).
 * Messages, media and files: `telegram-stub-chats.ts`.
 *
 * The world knows nothing about Olchat: it answers RPCs the way Telegram does, and tests read its state.
 */
import { Long, MtTimeoutError, tl } from '@mtcute/core'
import type { TelegramStub } from './telegram-stub.ts'
import {
  attachChats,
  type CustomerMedia,
  customerMedia,
  type StoredFile,
  tlMessage,
} from './telegram-stub-chats.ts'

export interface WorldUser {
  id: number
  accessHash: Long
  firstName: string
  lastName?: string
  username?: string
  phone: string
  bot?: boolean
  /** Privacy: the number is shown to nobody but the user. */
  phoneHidden?: boolean
  /** Profile photo bytes (a small JPEG in real life); `photoId` changes with every new photo. */
  avatar?: { photoId: Long; bytes: Uint8Array }
}

export interface WorldMessage {
  id: number
  /** The other user of the private chat, or the basic group (`chatId`). */
  peerId: number
  /** Set for a basic-group message: the group's id (peerId is then the sender). */
  chatId?: number
  out: boolean
  text: string
  entities?: tl.TypeMessageEntity[]
  media?: tl.TypeMessageMedia
  date: number
  editDate?: number
  deleted: boolean
  replyToId?: number
  forwardFrom?: number
}

export interface WorldAccount {
  user: WorldUser
  password?: string
  hint?: string
  pts: number
  nextMessageId: number
  /** One numbering for private chats and basic groups (Telegram's, for users). */
  messages: Map<number, WorldMessage>
  /** pts → the update that moved it there (getDifference replays them). */
  log: { pts: number; update: tl.TypeUpdate; users: tl.TypeUser[]; chats: tl.TypeChat[] }[]
  /** random_id → message id: a repeat is refused with RANDOM_ID_DUPLICATE. */
  randomIds: Map<string, number>
  /** Up to where the account read each chat. */
  readInbox: Map<number, number>
  /** The address book. */
  contacts: Set<number>
  /** Times a key of this account was killed for being used twice at once. */
  duplicatedSessions: number
}

/** One client connected to the world. */
export interface Session {
  stub: TelegramStub
}

/** A fault for the next matching call of the world. */
interface Fault {
  method?: string
  phone?: string
  /** What happens: an error answer, or the answer lost before/after the work (a timeout for the caller). */
  kind: { error: tl.RpcError } | { lost: 'before' | 'after' }
}

/** Calls a client makes on its own (updates loop, health checks): a fault without a method skips them. */
const BACKGROUND = new Set(['updates.getState', 'updates.getDifference', 'updates.getChannelDifference'])

const now = () => Math.floor(Date.now() / 1000)
export const rpcError = (code: number, text: string) =>
  tl.RpcError.fromTl({ _: 'mt_rpc_error', errorCode: code, errorMessage: text })

export class TelegramStubWorld {
  readonly users = new Map<number, WorldUser>()
  readonly accounts = new Map<string, WorldAccount>()
  /** phone → the last code "sent" and its hash. */
  readonly codes = new Map<string, { code: string; hash: string; expired: boolean }>()
  /** Auth key (hex) → the account it is logged in as. */
  readonly authorizations = new Map<string, WorldAccount>()
  /** Keys killed by AUTH_KEY_DUPLICATED. */
  readonly deadKeys = new Set<string>()
  /** Stored files by id (uploaded parts are assembled into these). */
  readonly files = new Map<string, StoredFile>()
  readonly sessions = new Set<Session>()
  private readonly faults: Fault[] = []
  private readonly qrTokens = new Map<string, { session: Session; account?: WorldAccount }>()
  private readonly pendingPassword = new Map<Session, WorldAccount>()
  private readonly channelPts = new Map<number, number>()
  private nextUserId = 1000
  private nextCode = 12345
  /** Seconds a QR token lives (Telegram: 30). */
  qrTtl = 30

  /** A Telegram user (customer or account owner). */
  addUser(fields: Partial<WorldUser> & { firstName: string }): WorldUser {
    const id = fields.id ?? this.nextUserId++
    const user: WorldUser = {
      id,
      accessHash: Long.fromNumber(id * 7919),
      phone: fields.phone ?? `7999${String(id).padStart(7, '0')}`,
      ...fields,
    }
    this.users.set(id, user)
    return user
  }

  /** A user who can log in (with an optional 2FA password). */
  addAccount(fields: { firstName: string; phone?: string; password?: string; hint?: string }) {
    const user = this.addUser({
      firstName: fields.firstName,
      ...(fields.phone ? { phone: fields.phone } : {}),
    })
    const account: WorldAccount = {
      user,
      ...(fields.password ? { password: fields.password } : {}),
      ...(fields.hint ? { hint: fields.hint } : {}),
      pts: 1,
      nextMessageId: 1,
      messages: new Map(),
      log: [],
      randomIds: new Map(),
      readInbox: new Map(),
      contacts: new Set(),
      duplicatedSessions: 0,
    }
    this.accounts.set(user.phone, account)
    return account
  }

  account(phone: string): WorldAccount {
    const account = this.accounts.get(phone)
    if (!account) throw new Error(`no account ${phone}`)
    return account
  }

  /** The next call (of `method`, else the next one a client makes on purpose) fails with this error. */
  failNext(error: tl.RpcError, method?: string, phone?: string) {
    this.faults.push({ kind: { error }, ...(method ? { method } : {}), ...(phone ? { phone } : {}) })
  }

  floodNext(seconds: number, method?: string, phone?: string) {
    this.failNext(rpcError(420, `FLOOD_WAIT_${seconds}`), method, phone)
  }

  /** The next call's answer is lost: before Telegram did the work, or after. The caller times out. */
  loseNext(when: 'before' | 'after', method?: string, phone?: string) {
    this.faults.push({ kind: { lost: when }, ...(method ? { method } : {}), ...(phone ? { phone } : {}) })
  }

  /** "Terminate all sessions": every key of the account stops being authorized (401 from then on). */
  revokeSessions(phone: string) {
    const account = this.account(phone)
    for (const [key, owner] of this.authorizations) if (owner === account) this.authorizations.delete(key)
  }

  /** The network between the account's live clients and Telegram fails. */
  dropConnections(phone: string) {
    const account = this.account(phone)
    for (const session of this.sessions)
      if (this.accountOf(session) === account) session.stub.dropConnection()
  }

  /** The account's live clients stop receiving pushed updates, with no sign of it (a half-dead socket). */
  stallConnections(phone: string) {
    const account = this.account(phone)
    for (const session of this.sessions) if (this.accountOf(session) === account) session.stub.stall()
  }

  /** A logged-in device of the account scans the QR code carrying this `tg://login` URL. */
  scanQr(url: string, phone: string) {
    const token = new URL(url).searchParams.get('token')!
    const entry = this.qrTokens.get(token)
    if (!entry) throw new Error('unknown qr token')
    entry.account = this.account(phone)
    entry.session.stub.push({ _: 'updateShort', update: { _: 'updateLoginToken' }, date: now() })
  }

  /** The account a session is logged in as, by its auth key. */
  accountOf(session: Session): WorldAccount | undefined {
    const key = session.stub.authKey
    return key === undefined ? undefined : this.authorizations.get(key)
  }

  /** Appends an update to the account's sequence and pushes it to its live clients (except `source`). */
  publish(
    account: WorldAccount,
    update: tl.TypeUpdate & { pts: number; ptsCount: number },
    peers: { users?: tl.TypeUser[]; chats?: tl.TypeChat[] } = {},
    source?: Session,
  ) {
    account.pts += update.ptsCount
    update.pts = account.pts
    const users = peers.users ?? []
    const chats = peers.chats ?? []
    account.log.push({ pts: account.pts, update, users, chats })
    for (const session of this.sessions) {
      if (session === source || this.accountOf(session) !== account) continue
      session.stub.push({ _: 'updates', updates: [update], users, chats, date: now(), seq: 0 })
    }
  }

  /** Connects a stub client to the world: every RPC it makes is answered here. */
  attach(stub: TelegramStub): TelegramStub {
    const session: Session = { stub }
    this.sessions.add(session)
    stub.onLinkUp = () => this.checkDuplicate(session)
    const answer = <M extends tl.RpcMethod['_']>(
      method: M,
      fn: (req: Extract<tl.RpcMethod, { _: M }>) => unknown,
    ) =>
      stub.respondWith(method, (async (req: Extract<tl.RpcMethod, { _: M }>) => {
        const key = stub.authKey
        if (key && this.deadKeys.has(key)) throw rpcError(406, 'AUTH_KEY_DUPLICATED')
        const fault = this.takeFault(method, session)
        if (fault && 'error' in fault.kind) throw fault.kind.error
        if (fault && 'lost' in fault.kind && fault.kind.lost === 'before') throw new MtTimeoutError()
        const result = await fn(req)
        if (fault) throw new MtTimeoutError()
        return result
      }) as never)
    const authed = () => {
      const account = this.accountOf(session)
      if (!account) throw rpcError(401, 'AUTH_KEY_UNREGISTERED')
      return account
    }
    this.attachLogin(session, answer)
    answer('updates.getState', () => {
      const account = authed()
      return { _: 'updates.state', pts: account.pts, qts: 0, seq: 0, date: now(), unreadCount: 0 }
    })
    answer('updates.getDifference', (req) => this.difference(authed(), req.pts))
    answer('updates.getChannelDifference', (req) => {
      authed()
      return { _: 'updates.channelDifferenceEmpty', final: true, pts: req.pts, timeout: 30 }
    })
    answer('users.getUsers', (req) =>
      req.id.map((input) => {
        const account = authed()
        if (input._ === 'inputUserSelf') return this.tlUser(account.user, true)
        const id = input._ === 'inputUser' ? input.userId : 0
        const user = this.users.get(id)
        // A user is visible by id alone (access hash 0) only to accounts that know them (§4 peers).
        const known =
          user &&
          (input._ === 'inputUser' && input.accessHash.equals(user.accessHash)
            ? true
            : account.contacts.has(id) || [...account.messages.values()].some((m) => m.peerId === id))
        return user && known ? this.tlUser(user) : { _: 'userEmpty', id }
      }),
    )
    attachChats(this, session, answer, authed)
    return stub
  }

  // ---- what other people, and the account's other devices, do -----------------------------------------

  /** A customer writes to the account (text, media, a reply or a forward); live clients get it pushed. */
  customerSends(
    phone: string,
    from: WorldUser,
    text: string,
    extra: Partial<Pick<WorldMessage, 'entities' | 'replyToId' | 'forwardFrom'>> & {
      media?: CustomerMedia
    } = {},
  ): WorldMessage {
    const { media, ...rest } = extra
    return this.newMessage(this.account(phone), {
      peerId: from.id,
      out: false,
      text,
      ...rest,
      ...(media ? { media: customerMedia(this, media) } : {}),
    })
  }

  /** The account's owner writes from the phone: an outgoing message every other client of the account sees. */
  ownerSends(phone: string, to: WorldUser, text: string): WorldMessage {
    return this.newMessage(this.account(phone), { peerId: to.id, out: true, text })
  }

  /** A message in a basic group the account is a member of (same numbering and pts as private chats). */
  groupMessage(phone: string, from: WorldUser, groupId: number, text: string): WorldMessage {
    return this.newMessage(this.account(phone), { peerId: from.id, chatId: groupId, out: false, text }, [
      {
        _: 'chat',
        id: groupId,
        title: `Group ${groupId}`,
        photo: { _: 'chatPhotoEmpty' },
        participantsCount: 3,
        date: now(),
        version: 1,
      },
    ])
  }

  /** A post in a channel the account follows: channels keep their own pts (updateNewChannelMessage). */
  channelPost(phone: string, channelId: number, text: string) {
    const account = this.account(phone)
    const channel: tl.RawChannel = {
      _: 'channel',
      id: channelId,
      broadcast: true,
      accessHash: Long.fromNumber(channelId * 31),
      title: `Channel ${channelId}`,
      photo: { _: 'chatPhotoEmpty' },
      date: now(),
    }
    const pts = (this.channelPts.get(channelId) ?? 1) + 1
    this.channelPts.set(channelId, pts)
    const message: tl.RawMessage = {
      _: 'message',
      id: pts,
      peerId: { _: 'peerChannel', channelId },
      date: now(),
      message: text,
    }
    for (const session of this.sessions) {
      if (this.accountOf(session) !== account) continue
      session.stub.push({
        _: 'updates',
        updates: [{ _: 'updateNewChannelMessage', message, pts, ptsCount: 1 }],
        users: [],
        chats: [channel],
        date: now(),
        seq: 0,
      })
    }
  }

  customerEdits(phone: string, id: number, text: string) {
    const account = this.account(phone)
    const message = account.messages.get(id)!
    message.text = text
    message.editDate = now()
    const update = {
      _: 'updateEditMessage' as const,
      message: tlMessage(account, message),
      pts: 0,
      ptsCount: 1,
    }
    this.publish(account, update, { users: [this.tlUser(this.users.get(message.peerId)!)] })
  }

  customerDeletes(phone: string, ids: number[]) {
    const account = this.account(phone)
    for (const id of ids) account.messages.get(id)!.deleted = true
    this.publish(account, { _: 'updateDeleteMessages', messages: ids, pts: 0, ptsCount: ids.length })
  }

  /** The customer opens the chat: the account's messages to them up to the latest are read. */
  customerReads(phone: string, from: WorldUser) {
    const account = this.account(phone)
    const mine = [...account.messages.values()].filter((m) => m.out && m.peerId === from.id && !m.chatId)
    const maxId = Math.max(0, ...mine.map((m) => m.id))
    this.publish(
      account,
      { _: 'updateReadHistoryOutbox', peer: { _: 'peerUser', userId: from.id }, maxId, pts: 0, ptsCount: 1 },
      { users: [this.tlUser(from)] },
    )
  }

  /** Messages of the account's private chat with a user, in order. */
  chat(phone: string, userId: number): WorldMessage[] {
    return [...this.account(phone).messages.values()].filter((m) => m.peerId === userId && !m.chatId)
  }

  private newMessage(
    account: WorldAccount,
    fields: Omit<WorldMessage, 'id' | 'date' | 'deleted'>,
    chats: tl.TypeChat[] = [],
  ) {
    const message: WorldMessage = { id: account.nextMessageId++, date: now(), deleted: false, ...fields }
    account.messages.set(message.id, message)
    // Every user the message names comes with it, as Telegram sends them.
    const named = [message.peerId, message.forwardFrom].flatMap((id) => {
      const user = id === undefined ? undefined : this.users.get(id)
      return user ? [this.tlUser(user)] : []
    })
    this.publish(
      account,
      { _: 'updateNewMessage', message: tlMessage(account, message), pts: 0, ptsCount: 1 },
      { users: [this.tlUser(account.user, true), ...named], chats },
    )
    return message
  }

  // ---- login (§2) ------------------------------------------------------------------------------------

  private attachLogin(session: Session, answer: Answer) {
    answer('auth.sendCode', (req) => this.sendCode(req.phoneNumber))
    answer('auth.resendCode', (req) => this.sendCode(req.phoneNumber))
    answer('auth.signIn', (req) => {
      const pending = this.codes.get(req.phoneNumber)
      if (!pending || pending.hash !== req.phoneCodeHash) throw rpcError(400, 'PHONE_CODE_HASH_EMPTY')
      if (pending.expired) throw rpcError(400, 'PHONE_CODE_EXPIRED')
      if (pending.code !== req.phoneCode) throw rpcError(400, 'PHONE_CODE_INVALID')
      const account = this.account(req.phoneNumber)
      if (account.password) {
        this.pendingPassword.set(session, account)
        throw rpcError(401, 'SESSION_PASSWORD_NEEDED')
      }
      return this.authorize(session, account)
    })
    answer('account.getPassword', () => {
      const account = this.pendingPassword.get(session)
      return {
        _: 'account.password',
        hasPassword: Boolean(account?.password),
        ...(account?.hint ? { hint: account.hint } : {}),
        newAlgo: { _: 'passwordKdfAlgoUnknown' },
        newSecureAlgo: { _: 'securePasswordKdfAlgoUnknown' },
        secureRandom: new Uint8Array(8),
      }
    })
    answer('auth.checkPassword', (req) => {
      const account = this.pendingPassword.get(session)
      if (!account) throw rpcError(400, 'PASSWORD_HASH_INVALID')
      // The stub client sends the password itself in place of the SRP proof (telegram-stub.ts).
      const given = req.password._ === 'inputCheckPasswordSRP' ? new TextDecoder().decode(req.password.A) : ''
      if (given !== account.password) throw rpcError(400, 'PASSWORD_HASH_INVALID')
      this.pendingPassword.delete(session)
      return this.authorize(session, account)
    })
    answer('auth.exportLoginToken', () => {
      for (const [token, entry] of this.qrTokens) {
        if (entry.session !== session || !entry.account) continue
        this.qrTokens.delete(token)
        if (entry.account.password) {
          this.pendingPassword.set(session, entry.account)
          throw rpcError(401, 'SESSION_PASSWORD_NEEDED')
        }
        return { _: 'auth.loginTokenSuccess', authorization: this.authorize(session, entry.account) }
      }
      const token = crypto.getRandomValues(new Uint8Array(16))
      this.qrTokens.set(Buffer.from(token).toString('base64url'), { session })
      return { _: 'auth.loginToken', expires: now() + this.qrTtl, token }
    })
    answer('auth.logOut', () => {
      if (!this.accountOf(session)) throw rpcError(401, 'AUTH_KEY_UNREGISTERED')
      this.authorizations.delete(session.stub.authKey!)
      return { _: 'auth.loggedOut' }
    })
  }

  private authorize(session: Session, account: WorldAccount): tl.auth.RawAuthorization {
    const key = session.stub.authKey
    if (!key) throw new Error('stub: a login on a client that never connected')
    this.authorizations.set(key, account)
    return { _: 'auth.authorization', user: this.tlUser(account.user, true) }
  }

  private sendCode(phone: string): tl.auth.TypeSentCode {
    if (!/^\d{5,15}$/.test(phone) || phone.startsWith('0')) throw rpcError(400, 'PHONE_NUMBER_INVALID')
    if (!this.accounts.has(phone)) throw rpcError(400, 'PHONE_NUMBER_UNOCCUPIED')
    const code = String(this.nextCode++).slice(-5)
    const hash = `hash-${phone}-${code}`
    this.codes.set(phone, { code, hash, expired: false })
    return {
      _: 'auth.sentCode',
      type: { _: 'auth.sentCodeTypeApp', length: 5 },
      phoneCodeHash: hash,
      timeout: 60,
    }
  }

  // ---- sessions, faults, updates -----------------------------------------------------------------------

  /** One key on two live connections: Telegram kills the key for both (§1.5). */
  private checkDuplicate(session: Session) {
    const key = session.stub.authKey
    if (!key) return
    const twins = [...this.sessions].filter((s) => s !== session && s.stub.isLive && s.stub.authKey === key)
    if (twins.length === 0) return
    const account = this.authorizations.get(key)
    if (account) account.duplicatedSessions++
    this.authorizations.delete(key)
    this.deadKeys.add(key)
  }

  private takeFault(method: string, session: Session): Fault | undefined {
    const phone = this.accountOf(session)?.user.phone
    const index = this.faults.findIndex(
      (f) =>
        (f.method ? f.method === method : !BACKGROUND.has(method)) &&
        (!f.phone || f.phone === phone || phone === undefined),
    )
    return index >= 0 ? this.faults.splice(index, 1)[0] : undefined
  }

  private difference(account: WorldAccount, pts: number): tl.updates.TypeDifference {
    const missed = account.log.filter((entry) => entry.pts > pts)
    if (missed.length === 0) return { _: 'updates.differenceEmpty', date: now(), seq: 0 }
    const unique = <T extends { id: number }>(items: T[]) => [
      ...new Map(items.map((i) => [i.id, i])).values(),
    ]
    return {
      _: 'updates.difference',
      newMessages: missed.flatMap((e) => (e.update._ === 'updateNewMessage' ? [e.update.message] : [])),
      newEncryptedMessages: [],
      otherUpdates: missed.filter((e) => e.update._ !== 'updateNewMessage').map((e) => e.update),
      chats: unique(missed.flatMap((e) => e.chats as (tl.TypeChat & { id: number })[])),
      users: unique(missed.flatMap((e) => e.users as (tl.TypeUser & { id: number })[])),
      state: { _: 'updates.state', pts: account.pts, qts: 0, seq: 0, date: now(), unreadCount: 0 },
    }
  }

  tlUser(user: WorldUser, self = false): tl.RawUser {
    return {
      _: 'user',
      id: user.id,
      self,
      accessHash: user.accessHash,
      firstName: user.firstName,
      ...(user.lastName ? { lastName: user.lastName } : {}),
      ...(user.username ? { username: user.username } : {}),
      ...(user.phoneHidden && !self ? {} : { phone: user.phone }),
      ...(user.bot ? { bot: true, botInfoVersion: 1 } : {}),
      ...(user.avatar ? { photo: { _: 'userProfilePhoto', photoId: user.avatar.photoId, dcId: 2 } } : {}),
    }
  }
}

export type Answer = <M extends tl.RpcMethod['_']>(
  method: M,
  fn: (req: Extract<tl.RpcMethod, { _: M }>) => unknown,
) => void
