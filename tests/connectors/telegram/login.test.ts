/**
 * The Telegram login wizard driven step by step, as the panel does, over real mtcute clients and the stub
 * world: phone → code → 2FA, every error branch of reference §2.2 with its ru/en text, the attempt limit,
 * and QR login with refresh and password.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { tl } from '@mtcute/core'
import { FloodWaitError, InvalidLoginInputError } from '../../../src/bridge/errors.ts'
import { toLoginFlowId } from '../../../src/bridge/ids.ts'
import type { LoginStep } from '../../../src/bridge/login.ts'
import { LoginAttempts } from '../../../src/connectors/telegram/login-common.ts'
import { loginTexts } from '../../../src/connectors/telegram/login-texts.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { repositories } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { telegramHarness } from './harness.ts'

let db: TestDatabase
let repos: Repositories
let h: ReturnType<typeof telegramHarness>
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  h = telegramHarness(repos)
})
afterAll(() => db.drop())

const phoneFlow = toLoginFlowId('phone')
const rpc = (code: number, text: string) => tl.RpcError.create(code, text as never)
const fail = (p: Promise<unknown>) =>
  p.then(
    () => new Error('did not fail'),
    (e: unknown) => e,
  )

async function begin() {
  const context = await h.loginContext()
  const login = h.connector.createLogin(phoneFlow, context)
  const first = await login.start()
  return { context, login, first }
}

describe('telegram login: phone', () => {
  test('phone → code → complete; the session is staged, and lands in the account rows at the first connect', async () => {
    const account = h.world.addAccount({ firstName: 'Manager', phone: '79990000001' })
    const { context, login, first } = await begin()
    expect(first).toMatchObject({ type: 'user-input', stepId: 'telegram.phone', fields: [{ kind: 'phone' }] })
    const code = await login.submit({ phone: '+7 999 000-00-01' })
    expect(code).toMatchObject({
      type: 'user-input',
      stepId: 'telegram.code',
      fields: [{ id: 'code', kind: 'code' }],
    })
    expect(code.instructions.ru).toContain('60')
    const done = await login.submit({ code: h.world.codes.get('79990000001')!.code })
    expect(done).toMatchObject({
      type: 'complete',
      account: { remoteId: String(account.user.id), displayName: 'Manager', phone: '+79990000001' },
    })
    expect(new TextDecoder().decode(context.session.values.get('telegram.user'))).toBe(
      String(account.user.id),
    )
    const kvRows = async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from telegram_kv where account_id = ${context.accountId}`
      return row!.n
    }
    expect(context.session.values.has('telegram.staged')).toBe(true)
    expect(await kvRows()).toBe(0)
    const client = h.connector.loadAccount({
      id: context.accountId,
      remoteId: done.type === 'complete' ? done.account.remoteId : null,
      credentials: null,
      session: context.session,
    })
    const states: string[] = []
    client.onEvent((event) => void (event.type === 'connection' && states.push(event.state)))
    await client.connect()
    expect(states).toEqual(['connected'])
    expect(await kvRows()).toBeGreaterThan(0)
    expect(context.session.values.has('telegram.staged')).toBe(false)
    await client.disconnect()
  })

  test('a malformed, an invalid and a banned number keep the phone step with ru/en texts', async () => {
    const { login } = await begin()
    const malformed = (await fail(login.submit({ phone: 'call me' }))) as InvalidLoginInputError
    expect(malformed).toBeInstanceOf(InvalidLoginInputError)
    expect(malformed.explanation).toEqual(loginTexts.phoneInvalid)
    const invalid = (await fail(login.submit({ phone: '+0123456' }))) as InvalidLoginInputError
    expect(invalid.explanation).toEqual(loginTexts.phoneInvalid)
    h.world.addAccount({ firstName: 'Banned', phone: '79990000002' })
    h.world.failNext(rpc(400, 'PHONE_NUMBER_BANNED'), 'auth.sendCode')
    const banned = (await fail(login.submit({ phone: '79990000002' }))) as InvalidLoginInputError
    expect(banned).toMatchObject({ fieldId: 'phone', explanation: loginTexts.phoneBanned })
    expect(banned.explanation.ru).toContain('заблокирован')
  })

  test('a wrong code keeps the step; an expired one brings a new code that logs in', async () => {
    h.world.addAccount({ firstName: 'Codes', phone: '79990000003' })
    const { login } = await begin()
    await login.submit({ phone: '79990000003' })
    const wrong = (await fail(login.submit({ code: '00000' }))) as InvalidLoginInputError
    expect(wrong).toMatchObject({ fieldId: 'code', explanation: loginTexts.codeInvalid })
    const stale = h.world.codes.get('79990000003')!
    stale.expired = true
    const again = await login.submit({ code: stale.code })
    expect(again).toMatchObject({ stepId: 'telegram.code', instructions: loginTexts.codeExpired })
    const fresh = h.world.codes.get('79990000003')!.code
    expect(fresh).not.toBe(stale.code)
    expect((await login.submit({ code: fresh })).type).toBe('complete')
  })

  test('resend is refused before the timeout with the seconds left', async () => {
    h.world.addAccount({ firstName: 'Resend', phone: '79990000004' })
    const { login } = await begin()
    await login.submit({ phone: '79990000004' })
    const early = (await fail(login.submit({ resend: '1' }))) as InvalidLoginInputError
    expect(early.fieldId).toBe('code')
    expect(early.explanation.en).toMatch(/in (59|60) s/)
  })

  test('2FA: the password step shows the hint; a wrong password keeps it; the right one completes', async () => {
    h.world.addAccount({
      firstName: 'Secure',
      phone: '79990000005',
      password: 'correct horse',
      hint: 'stable',
    })
    const { login } = await begin()
    await login.submit({ phone: '79990000005' })
    const step = await login.submit({ code: h.world.codes.get('79990000005')!.code })
    expect(step).toMatchObject({
      stepId: 'telegram.password',
      fields: [{ id: 'password', kind: 'password' }],
    })
    expect(step.instructions.ru).toContain('Подсказка: stable')
    expect(step.instructions.en).toContain('Hint: stable')
    const wrong = (await fail(login.submit({ password: 'wrong' }))) as InvalidLoginInputError
    expect(wrong).toMatchObject({ fieldId: 'password', explanation: loginTexts.passwordInvalid })
    expect((await login.submit({ password: 'correct horse' })).type).toBe('complete')
  })

  test('FLOOD_WAIT is a FloodWaitError with its seconds and a text; the step stays', async () => {
    h.world.addAccount({ firstName: 'Flood', phone: '79990000006' })
    const { login } = await begin()
    h.world.floodNext(120, 'auth.sendCode')
    const error = (await fail(login.submit({ phone: '79990000006' }))) as FloodWaitError & {
      explanation: { ru: string; en: string }
    }
    expect(error).toBeInstanceOf(FloodWaitError)
    expect(error.seconds).toBe(120)
    expect(error.explanation.en).toContain('120 s')
    expect(String((await login.submit({ phone: '79990000006' })).stepId)).toBe('telegram.code')
  })

  test('AUTH_RESTART goes back to the phone step with an explanation, and the login can finish', async () => {
    h.world.addAccount({ firstName: 'Restart', phone: '79990000007' })
    const { login } = await begin()
    await login.submit({ phone: '79990000007' })
    h.world.failNext(rpc(500, 'AUTH_RESTART'), 'auth.signIn')
    const back = await login.submit({ code: h.world.codes.get('79990000007')!.code })
    expect(back).toMatchObject({ stepId: 'telegram.phone', instructions: loginTexts.authRestart })
    await login.submit({ phone: '79990000007' })
    expect((await login.submit({ code: h.world.codes.get('79990000007')!.code })).type).toBe('complete')
  })

  test('an unregistered number says so and returns to the phone step', async () => {
    const { login } = await begin()
    const error = (await fail(login.submit({ phone: '79990009999' }))) as InvalidLoginInputError
    expect(error).toMatchObject({ fieldId: 'phone', explanation: loginTexts.phoneUnregistered })
  })

  test('code requests per phone are limited before Telegram bans the number', async () => {
    const limited = telegramHarness(repos, { attempts: new LoginAttempts(2, 60_000) })
    limited.world.addAccount({ firstName: 'Eager', phone: '79990000008' })
    const run = async () => {
      const login = limited.connector.createLogin(phoneFlow, await limited.loginContext())
      await login.start()
      return login.submit({ phone: '79990000008' })
    }
    await run()
    await run()
    const third = (await fail(run())) as InvalidLoginInputError
    expect(third).toBeInstanceOf(InvalidLoginInputError)
    expect(third.explanation).toEqual(loginTexts.tooManyAttempts(1))
    expect(limited.world.codes.get('79990000008')).toBeDefined()
    expect(limited.stubs.flatMap((s) => s.callNames()).filter((m) => m === 'auth.sendCode')).toHaveLength(2)
  })
})

describe('telegram login: QR', () => {
  const qrFlow = toLoginFlowId('qr')

  async function qr() {
    const context = await h.loginContext()
    const login = h.connector.createLogin(qrFlow, context)
    return { context, login, first: await login.start() }
  }
  const urlOf = (step: LoginStep) =>
    step.type === 'display-and-wait' && step.displayData.kind === 'qr' ? step.displayData.data : ''

  test('a tg://login code, refreshed when it expires, then logged in once scanned', async () => {
    const account = h.world.addAccount({ firstName: 'Qr', phone: '79990000010' })
    h.world.qrTtl = 1
    const { login, first } = await qr()
    expect(first).toMatchObject({
      type: 'display-and-wait',
      stepId: 'telegram.qr',
      displayData: { kind: 'qr' },
    })
    expect(urlOf(first)).toMatch(/^tg:\/\/login\?token=[A-Za-z0-9_-]+$/)
    const refreshed = await login.wait()
    expect(refreshed.type).toBe('display-and-wait')
    expect(urlOf(refreshed)).not.toBe(urlOf(first))
    h.world.qrTtl = 30
    const current = await login.wait()
    h.world.scanQr(urlOf(current), '79990000010')
    const done = await login.wait()
    expect(done).toMatchObject({ type: 'complete', account: { remoteId: String(account.user.id) } })
  })

  test('a scanned code of a 2FA account asks for the password with its hint', async () => {
    h.world.addAccount({ firstName: 'QrSecure', phone: '79990000011', password: 'pw', hint: 'short' })
    h.world.qrTtl = 30
    const { login, first } = await qr()
    h.world.scanQr(urlOf(first), '79990000011')
    const step = await login.wait()
    expect(step).toMatchObject({ stepId: 'telegram.password' })
    expect(step.instructions.en).toContain('Hint: short')
    expect(await fail(login.submit({ password: 'nope' }))).toBeInstanceOf(InvalidLoginInputError)
    expect((await login.submit({ password: 'pw' })).type).toBe('complete')
  })
})
