import { describe, expect, test } from 'bun:test'
import { Writable } from 'node:stream'
import { createLogger } from '../../src/log/logger.ts'

/** Collects what the logger writes, as the raw text a log shipper would receive. */
function capture() {
  const chunks: string[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString())
      done()
    },
  })
  return { log: createLogger({ level: 'trace', destination }), text: () => chunks.join('') }
}

const phone = '+7 (912) 345-67-89'
const accessToken = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0'
const botToken = 'f9LHodD0cOI-v7sjkLe3Jq5Xp8c3a6Hd2iDPsIUc'
const messageText = 'Привет, мой номер 89123456789, перезвоните'
const session = Buffer.from('1BVtsOK8Bu0secretsessionbytes').toString('base64')

describe('P3: logs never contain message text, phone numbers, tokens or session data', () => {
  test('P3: secrets and personal data under known keys are redacted at any depth', () => {
    const { log, text } = capture()
    log.info(
      {
        portal: { memberId: 'abc', auth: { access_token: accessToken, refresh_token: accessToken } },
        update: { message: { text: messageText, from: { phone } } },
        account: { sessionData: session, botToken, apiHash: 'deadbeef' },
        AUTH_ID: accessToken,
        password: 'hunter2',
      },
      'relayed',
    )
    const out = text()
    for (const secret of [accessToken, botToken, messageText, session, 'hunter2', 'deadbeef', '345-67-89']) {
      expect(out).not.toContain(secret)
    }
    expect(out).toContain('"memberId":"abc"')
    expect(out).toContain('[redacted]')
  })

  test('P3: phone numbers and tokens inside free text are masked', () => {
    const { log, text } = capture()
    log.warn(`login failed for ${phone} with token ${botToken}`)
    log.info({ note: 'customer 79123456789 wrote' }, 'contact %s', '+79123456789')
    const out = text()
    expect(out).not.toContain('345-67-89')
    expect(out).not.toContain('9123456789')
    expect(out).not.toContain(botToken)
    expect(out).toContain('[phone]')
    expect(out).toContain('login failed for')
  })

  test('P3: errors are logged with their message scrubbed', () => {
    const { log, text } = capture()
    const error = Object.assign(new Error(`PHONE_NUMBER_INVALID for ${phone}, token ${accessToken}`), {
      code: 'E_TG',
    })
    log.error({ err: error }, 'telegram call failed')
    const out = text()
    expect(out).toContain('PHONE_NUMBER_INVALID')
    expect(out).toContain('"errorCode":"E_TG"')
    expect(out).not.toContain('345-67-89')
    expect(out).not.toContain(accessToken)
  })

  test('P3: identifiers, counts and timestamps stay readable', () => {
    const { log, text } = capture()
    log.info({ accountId: '0b6f1e7e-4a5c-4a3b-9d51-6f1a2e3c4d5e', count: 42, at: new Date(0) }, 'ok')
    const line = JSON.parse(text().trim())
    expect(line.accountId).toBe('0b6f1e7e-4a5c-4a3b-9d51-6f1a2e3c4d5e')
    expect(line.count).toBe(42)
    expect(line.at).toBe('1970-01-01T00:00:00.000Z')
    expect(line.level).toBe('info')
  })
})
