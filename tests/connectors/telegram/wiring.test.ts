/**
 * Configuration and wiring of the Telegram connector: the TELEGRAM_* variables (both credentials or none,
 * validated, device defaults), the registry entry only when configured, and the production client factory
 * (app credentials, the account's device, our middlewares and platform, catch-up on).
 */
import { describe, expect, test } from 'bun:test'
import { MemoryStorage } from '@mtcute/core'
import { Registry } from 'prom-client'
import { createConnectorRegistry } from '../../../src/accounts/connectors.ts'
import { toAccountId } from '../../../src/bridge/ids.ts'
import { ConfigError, loadConfig } from '../../../src/config/load.ts'
import { TelegramClientAdapter } from '../../../src/connectors/telegram/client.ts'
import { networkClientFactory } from '../../../src/connectors/telegram/client-factory.ts'
import { ServicePlatform } from '../../../src/connectors/telegram/platform.ts'
import { createLogger } from '../../../src/log/logger.ts'
import { version } from '../../../src/version.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { MemorySessionStore } from '../contract.ts'
import { TEST_DEVICE } from './harness.ts'

const HASH = '0123456789abcdef0123456789ABCDEF'

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error('expected a configuration error')
}

describe('telegram configuration', () => {
  test('off without credentials; both credentials turn it on with the default device', () => {
    expect(loadConfig({}).telegram).toBeUndefined()
    expect(loadConfig({ TELEGRAM_API_ID: '12345', TELEGRAM_API_HASH: HASH }).telegram).toEqual({
      apiId: 12345,
      apiHash: HASH.toLowerCase(),
      device: {
        deviceModel: 'Olchat',
        systemVersion: 'Linux',
        appVersion: `Olchat ${version}`,
        langCode: 'ru',
      },
    })
  })

  test('the device parameters can be set', () => {
    const config = loadConfig({
      TELEGRAM_API_ID: '1',
      TELEGRAM_API_HASH: HASH,
      TELEGRAM_DEVICE_MODEL: 'Sales desk',
      TELEGRAM_SYSTEM_VERSION: 'Debian 12',
      TELEGRAM_APP_VERSION: '2.0',
      TELEGRAM_LANG_CODE: 'en',
    })
    expect(config.telegram!.device).toEqual({
      deviceModel: 'Sales desk',
      systemVersion: 'Debian 12',
      appVersion: '2.0',
      langCode: 'en',
    })
  })

  test('one credential without the other, or a malformed one, stops with one line naming it', () => {
    expect(errorOf({ TELEGRAM_API_ID: '1' })).toBe(
      'TELEGRAM_API_HASH: must be set together with TELEGRAM_API_ID',
    )
    expect(errorOf({ TELEGRAM_API_HASH: HASH })).toBe(
      'TELEGRAM_API_HASH: must be set together with TELEGRAM_API_ID',
    )
    expect(errorOf({ TELEGRAM_API_ID: 'abc', TELEGRAM_API_HASH: HASH })).toStartWith('TELEGRAM_API_ID:')
    expect(errorOf({ TELEGRAM_API_ID: '1', TELEGRAM_API_HASH: 'short' })).toBe(
      'TELEGRAM_API_HASH: expected 32 hex characters',
    )
    expect(errorOf({ TELEGRAM_API_ID: '1', TELEGRAM_API_HASH: HASH, TELEGRAM_LANG_CODE: 'rus' })).toStartWith(
      'TELEGRAM_LANG_CODE:',
    )
    expect(errorOf({ TELEGRAM_DEVICE_MODEL: 'x'.repeat(65) })).toStartWith('TELEGRAM_DEVICE_MODEL:')
  })
})

describe('telegram wiring', () => {
  const log = createLogger({ level: 'silent' })
  const repos = { telegramSessions: {} } as unknown as Repositories
  const base = { sandboxUrl: undefined, max: loadConfig({}).max }

  test('the registry has Telegram only when it is configured and storage is given', () => {
    const telegram = loadConfig({ TELEGRAM_API_ID: '1', TELEGRAM_API_HASH: HASH }).telegram
    expect(createConnectorRegistry({ ...base, telegram: undefined }).has('telegram')).toBe(false)
    expect(createConnectorRegistry({ ...base, telegram }).has('telegram')).toBe(false)
    const max = {
      db: { sql: {} as never, kind: 'postgres' as const },
      repos: {} as never,
      log,
      publicUrl: 'http://x',
    }
    const services = { max: { ...max, registry: new Registry() } }
    const registry = createConnectorRegistry({ ...base, telegram }, { ...services, telegram: { repos, log } })
    const connector = registry.get('telegram')!
    expect(connector.name).toBe('telegram')
    expect(connector.loginFlows().map((f) => String(f.id))).toEqual(['phone', 'qr'])
    // Loading an account does no I/O: the repositories here would throw on any use.
    const client = connector.loadAccount({
      id: toAccountId(crypto.randomUUID()),
      remoteId: null,
      credentials: null,
      session: new MemorySessionStore(),
    })
    expect(client).toBeInstanceOf(TelegramClientAdapter)
  })

  test('production clients carry the app credentials, the device, our platform and middlewares', async () => {
    const factory = networkClientFactory({ apiId: 4242, apiHash: HASH, logger: log })
    const tg = factory(new MemoryStorage(), TEST_DEVICE)
    const params = (tg as unknown as { _client: { params: Record<string, unknown> } })._client.params
    expect(params).toMatchObject({
      apiId: 4242,
      apiHash: HASH,
      initConnectionOptions: {
        deviceModel: TEST_DEVICE.deviceModel,
        systemVersion: TEST_DEVICE.systemVersion,
        appVersion: TEST_DEVICE.appVersion,
        langCode: 'ru',
      },
      updates: { catchUp: true },
    })
    expect(params.platform).toBeInstanceOf(ServicePlatform)
    // Two middlewares: flood waiter and internal errors, with our limits (middlewares.ts).
    expect((params.network as { middlewares: unknown[] }).middlewares).toHaveLength(2)
    await tg.destroy()
  })
})
