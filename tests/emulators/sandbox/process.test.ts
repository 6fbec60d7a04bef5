import { describe, expect, test } from 'bun:test'
import { startSandbox } from './index.ts'
import { Live } from './testkit.ts'

/** First line a child prints on stdout. */
async function firstLine(child: { stdout: ReadableStream<Uint8Array> }): Promise<string> {
  const reader = child.stdout.getReader()
  let text = ''
  while (!text.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) break
    text += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  return text.trim()
}

describe('standalone process (main.ts)', () => {
  test('prints its URLs as one JSON line, serves the APIs, stops on SIGTERM', async () => {
    const child = Bun.spawn([process.execPath, 'tests/emulators/sandbox/main.ts', '--login-code', '24680'], {
      stdout: 'pipe',
      stderr: 'inherit',
    })
    const info = JSON.parse(await firstLine(child)) as {
      url: string
      api: string
      ws: string
      control: string
    }
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(info).toEqual({
      url: info.url,
      api: `${info.url}/v1`,
      ws: `${info.url.replace('http', 'ws')}/v1/updates/ws`,
      control: `${info.url}/_control`,
    })
    const post = (path: string, body: unknown) =>
      fetch(`${info.url}${path}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json())
    await post('/_control/create-account', { phone: '+15550100' })
    const sent = (await post('/v1/auth/send-code', { phone: '+15550100' })) as { phoneCodeHash: string }
    const signed = (await post('/v1/auth/sign-in', { ...sent, phone: '+15550100', code: '24680' })) as {
      session: string
    }
    expect(signed.session).toEqual(expect.any(String))
    const stats = (await (await fetch(`${info.control}/stats`)).json()) as { logins: number }
    expect(stats.logins).toBe(1)
    const state = (await (await fetch(`${info.control}/state?account=%2B15550100`)).json()) as {
      accounts: { id: number; phone: string; name: string; seq: number; chats: unknown[] }[]
    }
    expect(state.accounts).toEqual([
      { id: 1000001, phone: '+15550100', name: 'Account 1000001', seq: 0, chats: [] },
    ])
    child.kill('SIGTERM')
    expect(await child.exited).toBe(0)
  })
  test('a SIGKILLed client frees its live connection: the restarted one is no duplicate', async () => {
    const sandbox = await startSandbox()
    try {
      const account = sandbox.createAccount({ phone: '+15550100' }).id
      const token = sandbox.createSession({ account }).session
      const script =
        `const ws = new WebSocket(${JSON.stringify(sandbox.info().ws)}, ` +
        `{ headers: { authorization: 'Bearer ${token}' } }); ws.onmessage = (e) => console.log(e.data)`
      const child = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe', stderr: 'inherit' })
      expect(JSON.parse(await firstLine(child))).toEqual({ type: 'ready', seq: 0 })
      expect(sandbox.stats().liveConnections).toBe(1)
      child.kill('SIGKILL')
      await child.exited
      const again = new Live(sandbox, token)
      await again.ready()
      expect(sandbox.stats()).toMatchObject({
        authKeyDuplicated: 0,
        liveConnections: 1,
        connectionsOpened: 2,
      })
      await again.close()
    } finally {
      await sandbox.stop()
    }
  })
})
