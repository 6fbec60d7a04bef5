/**
 * Conformance of `profile` and `user.current` (methods-user.ts): the user is whoever the token belongs to,
 * `profile` needs no scope, `user.current` needs a user scope and its fields follow it, and the usual
 * token errors (§3.3) apply. `user.admin` is checked beside them: together they say who opened a page.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { type Bitrix24Emulator, startBitrix24Emulator } from './index.ts'
import { rest, type Sink, startSink } from './testkit.ts'

let emulator: Bitrix24Emulator | undefined
let sink: Sink | undefined

afterEach(async () => {
  await emulator?.stop()
  await sink?.stop()
})

async function start(scope?: string) {
  emulator = await startBitrix24Emulator({
    rateLimit: { drainPerSecond: 1000, burst: 1000 },
    ...(scope === undefined ? {} : { app: { scope } }),
    portals: [{ webhooks: [{ userId: 27, code: 'hook27code' }] }, {}],
  })
  await emulator.install({ restOnly: true })
  return emulator
}

const tokenOf = async (e: Bitrix24Emulator, userId: number) =>
  (await e.issueTokens({ userId })).access_token as string

describe('profile (scope basic)', () => {
  test('answers the token owner: id, admin flag and name, with the default scopes', async () => {
    const e = await start()
    const admin = await rest(e, 'profile', {}, await tokenOf(e, 1))
    expect(admin.status).toBe(200)
    expect(admin.body.result).toEqual({
      ID: '1',
      ADMIN: true,
      NAME: 'Anna',
      LAST_NAME: 'Admin',
      PERSONAL_GENDER: '',
      TIME_ZONE: '',
    })
    const user = await rest(e, 'profile', {}, await tokenOf(e, 27))
    expect(user.body.result).toMatchObject({ ID: '27', ADMIN: false, NAME: 'Klaus' })
    expect((await rest(e, 'user.admin', {}, await tokenOf(e, 27))).body.result).toBe(false)
  })

  test('the AUTH_ID posted to an app page is the opening user (§2.2)', async () => {
    const e = await start()
    sink = startSink()
    sink.respond('/app', 200, '<html>app</html>')
    const page = await e.openApp({ url: `${sink.url}/app`, userId: 27 })
    const answer = await rest(e, 'profile', {}, page.form.AUTH_ID!)
    expect(answer.body.result).toMatchObject({ ID: '27', ADMIN: false })
  })

  test('an incoming webhook answers for its user', async () => {
    const e = await start()
    const res = await fetch(`${e.portalUrl()}/rest/27/hook27code/profile.json`)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { result: { ID: string } }).result.ID).toBe('27')
  })

  test('expired, unknown and other-portal tokens are 401 (§3.3)', async () => {
    const e = await start()
    const token = await tokenOf(e, 1)
    await e.expireAccessTokens({ userId: 1 })
    const expired = await rest(e, 'profile', {}, token)
    expect(expired.status).toBe(401)
    expect(expired.body.error).toBe('expired_token')
    expect((await rest(e, 'profile', {}, 'x'.repeat(32))).body.error).toBe('invalid_token')
    // A token of the second portal, presented to the first.
    const second = e.control(e.portals[1]!.memberId)
    await second.install({ restOnly: true })
    const foreign = (await second.issueTokens({ userId: 1 })).access_token as string
    const crossed = await rest(e, 'profile', {}, foreign)
    expect(crossed.status).toBe(401)
    expect(crossed.body.error).toBe('invalid_token')
  })
})

describe('user.current (scope user, user_brief or user_basic)', () => {
  test('without a user scope: 403 insufficient_scope', async () => {
    const e = await start()
    const res = await rest(e, 'user.current', {}, await tokenOf(e, 1))
    expect(res.status).toBe(403)
    expect(res.body.error).toBe('insufficient_scope')
  })

  test('user_brief: the token owner without contact fields', async () => {
    const e = await start('imopenlines,imconnector,user_brief')
    const res = await rest(e, 'user.current', {}, await tokenOf(e, 27))
    expect(res.status).toBe(200)
    const result = res.body.result as Record<string, unknown>
    expect(result).toMatchObject({ ID: '27', ACTIVE: true, NAME: 'Klaus', LAST_NAME: 'Weber' })
    expect(result).not.toHaveProperty('EMAIL')
  })

  test('user: contact fields too', async () => {
    const e = await start('imopenlines,user')
    const res = await rest(e, 'user.current', {}, await tokenOf(e, 1))
    expect(res.body.result).toMatchObject({ ID: '1', NAME: 'Anna' })
    expect(res.body.result).toHaveProperty('EMAIL')
  })
})
