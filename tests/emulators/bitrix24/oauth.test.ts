import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type Bitrix24Emulator, startBitrix24Emulator } from './index.ts'
import { rest } from './testkit.ts'

const CLIENT_ID = 'local.66ba434d853c87.18550109'
const CLIENT_SECRET = 'test-secret'

let emulator: Bitrix24Emulator

beforeAll(async () => {
  emulator = await startBitrix24Emulator({
    app: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    rateLimit: { drainPerSecond: 1000, burst: 1000 },
  })
  await emulator.install({ restOnly: true })
})
afterAll(() => emulator.stop())

async function refreshGet(refreshToken: string, secret = CLIENT_SECRET) {
  const q = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: CLIENT_ID,
    client_secret: secret,
    refresh_token: refreshToken,
  })
  const res = await fetch(`${emulator.oauthUrl}/oauth/token/?${q}`)
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

async function refreshPost(refreshToken: string) {
  const res = await fetch(`${emulator.oauthUrl}/oauth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      refresh_token: refreshToken,
    }),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('OAuth server (§3)', () => {
  test('refresh by GET answers the §3.1 shape with endpoints on the right hosts', async () => {
    const pair = await emulator.issueTokens()
    const { status, body } = await refreshGet(pair.refresh_token as string)
    expect(status).toBe(200)
    expect(Object.keys(body).sort()).toEqual(
      [
        'access_token',
        'client_endpoint',
        'domain',
        'expires',
        'expires_in',
        'member_id',
        'refresh_token',
        'scope',
        'server_endpoint',
        'status',
        'user_id',
      ].sort(),
    )
    expect(body.expires_in).toBe(3600)
    expect(body.server_endpoint).toBe(`${emulator.oauthUrl}/rest/`)
    expect(body.client_endpoint).toBe(`${emulator.portalUrl()}/rest/`)
    expect(body.domain).toBe(new URL(emulator.oauthUrl).host)
    expect(body.member_id).toBe(emulator.portal.memberId)
    expect(body.user_id).toBe(1)
    expect(new URL(emulator.oauthUrl).port).not.toBe(new URL(emulator.portalUrl()).port)
  })

  test('rotation: used refresh → invalid_grant; its access token → 401; new pair works', async () => {
    const pair = await emulator.issueTokens()
    const fresh = await refreshPost(pair.refresh_token as string)
    expect(fresh.status).toBe(200)
    const again = await refreshPost(pair.refresh_token as string)
    expect(again.status).toBe(400)
    expect(again.body.error).toBe('invalid_grant')
    const old = await rest(emulator, 'app.info', {}, pair.access_token as string)
    expect(old.status).toBe(401)
    expect(old.body.error).toBe('invalid_token')
    const ok = await rest(emulator, 'app.info', {}, fresh.body.access_token as string)
    expect(ok.status).toBe(200)
  })

  test('expired access token → 401 expired_token; refresh still works', async () => {
    const pair = await emulator.issueTokens()
    expect((await emulator.expireAccessTokens()).expired).toBeGreaterThan(0)
    const answer = await rest(emulator, 'app.info', {}, pair.access_token as string)
    expect(answer.status).toBe(401)
    expect(answer.body.error).toBe('expired_token')
    expect((await refreshGet(pair.refresh_token as string)).status).toBe(200)
  })

  test('bad secret → invalid_client; missing → invalid_request; unknown → invalid_grant', async () => {
    const pair = await emulator.issueTokens()
    expect((await refreshGet(pair.refresh_token as string, 'wrong')).body.error).toBe('invalid_client')
    const res = await fetch(
      `${emulator.oauthUrl}/oauth/token/?grant_type=refresh_token&client_id=${CLIENT_ID}`,
    )
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request')
    expect((await refreshGet('nonexistent')).body.error).toBe('invalid_grant')
  })

  test('authorization_code grant: one use, then invalid_grant', async () => {
    const { code } = await emulator.issueAuthCode()
    const url = (c: string) =>
      `${emulator.oauthUrl}/oauth/token/?grant_type=authorization_code&client_id=${CLIENT_ID}` +
      `&client_secret=${CLIENT_SECRET}&code=${c}`
    const first = await fetch(url(code))
    expect(first.status).toBe(200)
    expect(((await first.json()) as { access_token: string }).access_token).toHaveLength(32)
    const second = await fetch(url(code))
    expect(((await second.json()) as { error: string }).error).toBe('invalid_grant')
  })

  test('refresh requests are counted in total and per portal', async () => {
    const before = emulator.stats() as {
      oauthRefreshes: number
      byPortal: Record<string, { oauthRefreshes: number }>
    }
    const pair = await emulator.issueTokens()
    await refreshGet(pair.refresh_token as string)
    await refreshGet(pair.refresh_token as string) // second one fails, still a request
    const after = emulator.stats() as typeof before
    expect(after.oauthRefreshes - before.oauthRefreshes).toBe(2)
    const memberId = emulator.portal.memberId
    expect(after.byPortal[memberId]!.oauthRefreshes - (before.byPortal[memberId]?.oauthRefreshes ?? 0)).toBe(
      2,
    )
  })

  test('dead refresh tokens and PAYMENT_REQUIRED (§3.3)', async () => {
    const pair = await emulator.issueTokens()
    await emulator.setPaymentRequired({ required: true })
    const paid = await refreshGet(pair.refresh_token as string)
    expect(paid.body.error).toBe('PAYMENT_REQUIRED')
    await emulator.setPaymentRequired({ required: false })
    await emulator.revokeRefreshTokens()
    expect((await refreshGet(pair.refresh_token as string)).body.error).toBe('invalid_grant')
  })

  test('the OAuth server app.info confirms app and portal of a token (§2.4)', async () => {
    const pair = await emulator.issueTokens()
    const res = await fetch(`${emulator.oauthUrl}/rest/app.info?auth=${pair.access_token}`)
    const body = (await res.json()) as { result: { client_id: string; install: Record<string, unknown> } }
    expect(body.result.client_id).toBe(CLIENT_ID)
    expect(body.result.install.member_id).toBe(emulator.portal.memberId)
    expect(body.result.install.installed).toBe(true)
    const bad = await fetch(`${emulator.oauthUrl}/rest/app.info?auth=garbage`)
    expect(bad.status).toBe(401)
  })
})
