/**
 * @module The login flow, shaped like Telegram's auth.sendCode → auth.signIn → auth.checkPassword: a code is
 * "sent" (tests read it through the control API), the code step answers SESSION_PASSWORD_NEEDED when the
 * account has a 2FA password, and the last step hands out a session token.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { ApiError, badRequest } from './errors.ts'
import type { Account } from './types.ts'
import { type Login, normalizePhone, type World } from './world.ts'

export interface SentCode {
  phoneCodeHash: string
  type: 'app'
  length: number
  timeout: number
}

export interface Authorization {
  session: string
  user: UserJson
}

export interface UserJson {
  id: number
  phone: string
  name: string
  username?: string
}

export function userJson(account: Account): UserJson {
  const user: UserJson = { id: account.id, phone: account.phone, name: account.name }
  if (account.username !== undefined) user.username = account.username
  return user
}

/** `GET /v1/me`: the user, plus the profile photo when the account has one (downloaded by file id). */
export function profileJson(world: World, account: Account): UserJson & { photo?: PhotoJson } {
  const meta = account.photo === undefined ? undefined : world.files.get(account.photo)
  return {
    ...userJson(account),
    ...(meta ? { photo: { fileId: meta.id, mime: meta.mime, size: meta.size } } : {}),
  }
}

export interface PhotoJson {
  fileId: string
  mime: string
  size: number
}

/** The account a login call is about (for per-account faults), or undefined if it names none. */
export function loginAccount(world: World, body: { phone?: string; phoneCodeHash?: string }) {
  if (body.phoneCodeHash !== undefined) {
    const login = world.logins.get(body.phoneCodeHash)
    if (login) return login.account
  }
  if (body.phone === undefined) return undefined
  return world.byPhone.get(normalizePhone(body.phone) ?? '')
}

export function sendCode(world: World, rawPhone: string): SentCode {
  const phone = normalizePhone(rawPhone)
  const account = phone === null ? undefined : world.byPhone.get(phone)
  if (!phone || !account) throw badRequest('PHONE_NUMBER_INVALID', 'The phone number is invalid')
  // A new code replaces the previous one, whose hash then answers PHONE_CODE_EXPIRED.
  const previous = world.loginByPhone.get(phone)
  if (previous) world.logins.delete(previous.hash)
  const login: Login = {
    hash: randomBytes(9).toString('hex'),
    phone,
    account,
    code: world.loginCode ?? String(randomInt(0, 100_000)).padStart(5, '0'),
    expiresAt: Date.now() + world.codeTtlMs,
    stage: 'code',
  }
  world.logins.set(login.hash, login)
  world.loginByPhone.set(phone, login)
  return {
    phoneCodeHash: login.hash,
    type: 'app',
    length: login.code.length,
    timeout: Math.round(world.codeTtlMs / 1000),
  }
}

function pending(world: World, hash: string): Login {
  const login = world.logins.get(hash)
  if (!login || login.expiresAt <= Date.now()) {
    if (login) forget(world, login)
    throw badRequest('PHONE_CODE_EXPIRED', 'The code has expired; request a new one')
  }
  return login
}

function forget(world: World, login: Login): void {
  world.logins.delete(login.hash)
  if (world.loginByPhone.get(login.phone) === login) world.loginByPhone.delete(login.phone)
}

function complete(world: World, login: Login): Authorization {
  forget(world, login)
  world.counters.logins++
  const session = world.createSession(login.account)
  return { session: session.token, user: userJson(login.account) }
}

export function signIn(world: World, body: { phone: string; phoneCodeHash: string; code: string }) {
  const login = pending(world, body.phoneCodeHash)
  if (normalizePhone(body.phone) !== login.phone) {
    throw badRequest('PHONE_NUMBER_INVALID', 'The phone number does not match the code')
  }
  if (login.stage === 'password') throw passwordNeeded(login.account)
  if (body.code.trim() !== login.code) throw badRequest('PHONE_CODE_INVALID', 'The code is invalid')
  if (login.account.password === undefined) return complete(world, login)
  login.stage = 'password'
  login.expiresAt = Date.now() + world.codeTtlMs
  throw passwordNeeded(login.account)
}

function passwordNeeded(account: Account): ApiError {
  return new ApiError('SESSION_PASSWORD_NEEDED', 401, 'Two-step verification is enabled; send the password', {
    hint: account.passwordHint ?? '',
  })
}

export function checkPassword(world: World, body: { phoneCodeHash: string; password: string }) {
  const login = pending(world, body.phoneCodeHash)
  if (login.stage !== 'password') throw badRequest('PHONE_CODE_EMPTY', 'Submit the code first')
  if (body.password !== login.account.password) {
    throw badRequest('PASSWORD_HASH_INVALID', 'The password is invalid')
  }
  return complete(world, login)
}

/** The code of the pending login of a phone (control API: what the customer's phone "received"). */
export function loginCode(world: World, rawPhone: string) {
  const login = world.loginByPhone.get(normalizePhone(rawPhone) ?? '')
  if (!login) throw new ApiError('NO_CODE', 404, `No code was sent to ${rawPhone}`)
  return {
    phone: login.phone,
    code: login.code,
    phoneCodeHash: login.hash,
    stage: login.stage,
    expiresAt: login.expiresAt,
  }
}

export function expireCode(world: World, rawPhone: string): { expired: boolean } {
  const login = world.loginByPhone.get(normalizePhone(rawPhone) ?? '')
  if (!login) return { expired: false }
  login.expiresAt = 0
  return { expired: true }
}
