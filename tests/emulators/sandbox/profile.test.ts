/**
 * The account's own profile at the sandbox: `GET /v1/me` shows what the owner set in the app (`set-profile`),
 * including a profile photo downloadable by its file id — by the account only — and a new id per new photo.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { type SandboxMessenger, startSandbox } from './index.ts'
import { api, control, login } from './testkit.ts'

let sandbox: SandboxMessenger
let token: string

beforeEach(async () => {
  sandbox = await startSandbox()
  await control(sandbox, 'create-account', { phone: '+15550100', name: 'Shop', username: 'shop' })
  await control(sandbox, 'create-account', { phone: '+15550200', name: 'Other' })
  token = await login(sandbox, '+15550100')
})
afterEach(() => sandbox.stop())

describe('own profile: GET /v1/me after set-profile', () => {
  test('a new name and photo show in /v1/me; the photo streams for the account only; null removes', async () => {
    const before = await api(sandbox, 'GET', '/v1/me', { token })
    expect(before.body).toEqual({ id: 1000001, phone: '+15550100', name: 'Shop', username: 'shop' })

    const set = await control(sandbox, 'set-profile', {
      account: '+15550100',
      name: 'Shop & Co',
      photo: { name: 'me.jpg', mime: 'image/jpeg', text: 'first photo' },
    })
    const me = await api(sandbox, 'GET', '/v1/me', { token })
    expect(me.body).toEqual(set)
    expect(me.body).toMatchObject({
      name: 'Shop & Co',
      username: 'shop',
      photo: { mime: 'image/jpeg', size: 11 },
    })
    const photo = await fetch(`${sandbox.url}/v1/files/${me.body.photo.fileId}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(photo.headers.get('content-type')).toBe('image/jpeg')
    expect(await photo.text()).toBe('first photo')
    // Another account cannot read it.
    const other = await login(sandbox, '+15550200')
    const refused = await api(sandbox, 'GET', `/v1/files/${me.body.photo.fileId}`, { token: other })
    expect([refused.status, refused.body.error]).toEqual([400, 'FILE_ID_INVALID'])

    await control(sandbox, 'set-profile', {
      account: 1000001,
      photo: { name: 'me.jpg', mime: 'image/jpeg', text: 'second photo' },
    })
    const changed = await api(sandbox, 'GET', '/v1/me', { token })
    expect(changed.body.photo.fileId).not.toBe(me.body.photo.fileId)

    await control(sandbox, 'set-profile', { account: 1000001, username: null, photo: null })
    expect((await api(sandbox, 'GET', '/v1/me', { token })).body).toEqual({
      id: 1000001,
      phone: '+15550100',
      name: 'Shop & Co',
    })
  })

  test('a bad set-profile body changes nothing', async () => {
    const res = await fetch(`${sandbox.url}/_control/set-profile`, {
      method: 'POST',
      body: JSON.stringify({ account: 1000001, name: '' }),
    })
    expect(res.status).toBe(400)
    expect((await api(sandbox, 'GET', '/v1/me', { token })).body.name).toBe('Shop')
  })
})
