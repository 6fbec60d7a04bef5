import { afterEach, describe, expect, test } from 'bun:test'
import { type Bitrix24Emulator, startBitrix24Emulator } from './index.ts'
import { ICON, rest } from './testkit.ts'

let emulator: Bitrix24Emulator

afterEach(() => emulator?.stop())

async function start(options: Parameters<typeof startBitrix24Emulator>[0] = {}) {
  emulator = await startBitrix24Emulator({
    rateLimit: { drainPerSecond: 1000, burst: 1000 },
    ...options,
    portals: [{ webhooks: [{ userId: 1, code: 'hook0code' }], lines: [{ id: 12, name: 'Support' }] }],
  })
  await emulator.install({ restOnly: true })
  return (await emulator.issueTokens()).access_token as string
}

describe('REST conventions (§4)', () => {
  test('auth in the query, a PHP-bracket form body or a JSON body; .json suffix works', async () => {
    const token = await start()
    const base = emulator.portalUrl()
    const viaQuery = await fetch(
      `${base}/rest/imconnector.status.json?auth=${token}&CONNECTOR=acme_tg&LINE=12`,
    )
    expect(viaQuery.status).toBe(200)
    const viaForm = await fetch(`${base}/rest/imconnector.connector.data.set`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body:
        `auth=${token}&CONNECTOR=acme_tg&LINE=12&DATA%5Bname%5D=Acme+bot` +
        '&DATA%5BURL%5D=https%3A%2F%2Ft.me%2Facme',
    })
    expect(((await viaForm.json()) as { result: unknown }).result).toBe(true)
    const state = emulator.state() as { statuses: { data: Record<string, string> }[] }
    expect(state.statuses[0]!.data).toEqual({
      name: 'Acme bot',
      url: 'https://t.me/acme',
      connector_id: 'acme_tg',
    })
    const viaJson = await rest(emulator, 'imconnector.status', { CONNECTOR: 'ACME_TG', LINE: '12' }, token)
    expect(viaJson.body.result).toEqual({
      LINE: 12,
      CONNECTOR: 'acme_tg',
      ERROR: false,
      CONFIGURED: false,
      STATUS: false,
    })
  })

  test('every answer carries the §4.3 time block, errors keep the §4.4 shape', async () => {
    const token = await start()
    const ok = await rest(emulator, 'user.admin', {}, token)
    expect(ok.body.result).toBe(true)
    for (const key of [
      'start',
      'finish',
      'duration',
      'processing',
      'date_start',
      'date_finish',
      'operating',
      'operating_reset_at',
    ]) {
      expect(ok.body.time).toHaveProperty(key)
    }
    expect(ok.body.time!.date_start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/)
    const missing = await rest(emulator, 'no.such.method', {}, token)
    expect(missing.status).toBe(404)
    expect(missing.body.error).toBe('ERROR_METHOD_NOT_FOUND')
    expect(typeof missing.body.error_description).toBe('string')
    expect(missing.body.time).toBeDefined()
    const arg = await rest(emulator, 'imconnector.activate', { CONNECTOR: 'acme_tg', LINE: 12 }, token)
    expect(arg.status).toBe(400)
    expect(arg.body).toMatchObject({
      error: 'ERROR_ARGUMENT',
      error_description: "Argument 'ACTIVE' is null or empty",
    })
  })

  test('401: no auth → NO_AUTH_FOUND, garbage → invalid_token (§3.3, §11.1)', async () => {
    await start()
    const none = await fetch(`${emulator.portalUrl()}/rest/app.info`)
    expect(none.status).toBe(401)
    expect(((await none.json()) as { error: string }).error).toBe('NO_AUTH_FOUND')
    const garbage = await rest(emulator, 'app.info', {}, 'garbage')
    expect(garbage.status).toBe(401)
    expect(garbage.body.error).toBe('invalid_token')
    expect((emulator.stats() as { status401: number }).status401).toBe(2)
  })

  test('webhooks: imconnector → 403 WRONG_AUTH_TYPE, app.info → 400, bad code → 401', async () => {
    await start()
    const hook = `${emulator.portalUrl()}/rest/1/hook0code`
    const reg = await fetch(`${hook}/imconnector.register.json`, { method: 'POST' })
    expect(reg.status).toBe(403)
    expect(((await reg.json()) as { error: string }).error).toBe('WRONG_AUTH_TYPE')
    const info = await fetch(`${hook}/app.info`)
    expect(info.status).toBe(400)
    expect(((await info.json()) as { error: string }).error).toBe('ACCESS_DENIED')
    expect((await fetch(`${hook}/user.admin`)).status).toBe(200)
    expect((await fetch(`${emulator.portalUrl()}/rest/1/wrong/user.admin`)).status).toBe(401)
    expect(emulator.info().webhookUrl).toBe(`${hook}/`)
  })

  test('app.info (§2.6) reports INSTALLED and the license', async () => {
    const token = await start()
    const { body } = await rest(emulator, 'app.info', {}, token)
    expect(body.result).toMatchObject({
      CODE: 'olchat.connector',
      VERSION: 1,
      INSTALLED: true,
      PAYMENT_EXPIRED: 'N',
    })
  })
})

describe('batch (§4.5)', () => {
  test('result / result_error / result_total / result_next / result_time, references and halt', async () => {
    const token = await start()
    const { status, body } = await rest(
      emulator,
      'batch',
      {
        halt: 0,
        cmd: {
          a: 'imopenlines.config.list.get?PARAMS[select][0]=ID&PARAMS[filter][ACTIVE]=Y',
          b: 'imconnector.status?CONNECTOR=acme_tg&LINE=$result[a][0][ID]',
          c: 'imconnector.activate?CONNECTOR=acme_tg&LINE=12',
        },
      },
      token,
    )
    expect(status).toBe(200)
    const r = body.result as Record<string, unknown> & {
      result: Record<string, unknown>
      result_time: object
    }
    expect(r.result.a).toEqual([{ ID: '12' }])
    expect((r.result.b as { LINE: number }).LINE).toBe(12)
    expect(r.result_error).toEqual({
      c: { error: 'ERROR_ARGUMENT', error_description: "Argument 'ACTIVE' is null or empty" },
    })
    expect(r.result_total).toEqual([])
    expect(r.result_next).toEqual([])
    expect(Object.keys(r.result_time)).toEqual(['a', 'b'])
    expect((r.result_time as Record<string, unknown>).a).toHaveProperty('duration')

    const halted = await rest(
      emulator,
      'batch',
      { halt: 1, cmd: ['imconnector.activate?CONNECTOR=x', 'user.admin'] },
      token,
    )
    const h = halted.body.result as Record<string, unknown>
    expect(h.result).toEqual([])
    expect(Object.keys(h.result_error as object)).toEqual(['0'])
  })

  test('51 commands → 400 ERROR_BATCH_LENGTH_EXCEEDED; nested batch refused', async () => {
    const token = await start()
    const cmd = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`c${i}`, 'user.admin']))
    const tooMany = await rest(emulator, 'batch', { cmd }, token)
    expect(tooMany.status).toBe(400)
    expect(tooMany.body.error).toBe('ERROR_BATCH_LENGTH_EXCEEDED')
    const nested = await rest(emulator, 'batch', { cmd: { n: 'batch?cmd[x]=user.admin' } }, token)
    expect(nested.status).toBe(200)
    const errors = (nested.body.result as { result_error: Record<string, { error: string }> }).result_error
    expect(errors.n!.error).toBe('ERROR_BATCH_METHOD_NOT_ALLOWED')
  })

  test('a batch counts once in the request counter, inner calls per method', async () => {
    const token = await start()
    await emulator.resetStats()
    const cmd = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`c${i}`, 'user.admin']))
    await rest(emulator, 'batch', { cmd }, token)
    const stats = emulator.stats() as {
      requests: number
      byMethod: Record<string, number>
      batchedByMethod: Record<string, number>
    }
    expect(stats.requests).toBe(1)
    expect(stats.byMethod).toEqual({ batch: 1 })
    expect(stats.batchedByMethod['user.admin']).toBe(50)
  })
})

describe('limits (§4.6)', () => {
  test('leaky bucket: a burst above 50 → 503 QUERY_LIMIT_EXCEEDED; draining lets calls in', async () => {
    emulator = await startBitrix24Emulator({ rateLimit: { drainPerSecond: 20, burst: 50 } })
    await emulator.install({ restOnly: true })
    const token = (await emulator.issueTokens()).access_token as string
    const answers = await Promise.all(
      Array.from({ length: 60 }, () => rest(emulator, 'user.admin', {}, token)),
    )
    const refused = answers.filter((a) => a.status === 503)
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(50)
    expect(refused.length).toBeGreaterThanOrEqual(1)
    expect(refused[0]!.body).toMatchObject({ error: 'QUERY_LIMIT_EXCEEDED' })
    expect((emulator.stats() as { status503: number }).status503).toBe(refused.length)
    await Bun.sleep(120) // 20/s → two slots free again
    expect((await rest(emulator, 'user.admin', {}, token)).status).toBe(200)
    expect((await rest(emulator, 'user.admin', {}, token)).status).toBe(200)
  })

  test('at the default 2/s: after the burst one call per 500 ms gets through', async () => {
    emulator = await startBitrix24Emulator()
    await emulator.install({ restOnly: true })
    const token = (await emulator.issueTokens()).access_token as string
    const answers = await Promise.all(
      Array.from({ length: 55 }, () => rest(emulator, 'user.admin', {}, token)),
    )
    expect(answers.filter((a) => a.status === 503).length).toBeGreaterThanOrEqual(4)
    await Bun.sleep(520)
    expect((await rest(emulator, 'user.admin', {}, token)).status).toBe(200)
    expect((await rest(emulator, 'user.admin', {}, token)).status).toBe(503)
  })

  test('defaults are 2/s and 50 (§4.6)', async () => {
    emulator = await startBitrix24Emulator()
    const limits = await emulator.setLimits({})
    expect(limits).toMatchObject({ drainPerSecond: 2, burst: 50, operationLimitSeconds: 480 })
  })

  test('execution time: 429 OPERATION_TIME_LIMIT for that method only; operating grows', async () => {
    emulator = await startBitrix24Emulator({
      rateLimit: { drainPerSecond: 1000, burst: 1000 },
      operationLimit: { limitSeconds: 5, costSeconds: 2, bucketMs: 100, buckets: 3 },
    })
    await emulator.install({ restOnly: true })
    const token = (await emulator.issueTokens()).access_token as string
    const seen: number[] = []
    for (let i = 0; i < 4; i++) {
      const a = await rest(emulator, 'user.admin', {}, token)
      seen.push(a.status)
      if (a.status === 200) expect(a.body.time!.operating).toBe(2 * (i + 1))
    }
    expect(seen).toEqual([200, 200, 200, 429])
    const blocked = await rest(emulator, 'user.admin', {}, token)
    expect(blocked.body).toMatchObject({ error: 'OPERATION_TIME_LIMIT' })
    expect((await rest(emulator, 'app.info', {}, token)).status).toBe(200)
    await Bun.sleep(320) // the window (3 × 100 ms) passes
    expect((await rest(emulator, 'user.admin', {}, token)).status).toBe(200)
    expect((emulator.stats() as { status429: number }).status429).toBe(2)
  })

  test('inner batch calls count toward the execution-time limit', async () => {
    emulator = await startBitrix24Emulator({
      rateLimit: { drainPerSecond: 1000, burst: 1000 },
      operationLimit: { limitSeconds: 3, costSeconds: 1 },
    })
    await emulator.install({ restOnly: true })
    const token = (await emulator.issueTokens()).access_token as string
    const { body } = await rest(
      emulator,
      'batch',
      { cmd: ['user.admin', 'user.admin', 'user.admin', 'user.admin', 'user.admin'] },
      token,
    )
    const r = body.result as { result: unknown[]; result_error: Record<string, { error: string }> }
    expect(r.result).toEqual([true, true, true, true])
    expect(r.result_error['4']!.error).toBe('OPERATION_TIME_LIMIT')
  })
})

describe('register via REST keeps ids lower-case (§5.2)', () => {
  test('ID is lowercased and the placement bound to PLACEMENT_HANDLER', async () => {
    const token = await start()
    const { body } = await rest(
      emulator,
      'imconnector.register',
      {
        ID: 'Acme_TG',
        NAME: 'Telegram (Acme)',
        ICON,
        PLACEMENT_HANDLER: 'https://bridge.example.com/b24/placement',
      },
      token,
    )
    expect(body.result).toEqual({ result: true })
    const state = emulator.state() as { connectors: { id: string }[]; placements: Record<string, unknown>[] }
    expect(state.connectors[0]!.id).toBe('acme_tg')
    expect(state.placements[0]).toMatchObject({
      placement: 'SETTING_CONNECTOR',
      connector: 'acme_tg',
      handler: 'https://bridge.example.com/b24/placement',
    })
  })
})
